# The handler of the sample custom runtime (sourced by ./bootstrap, which calls `handler "$event"` with
# $request_id and $deadline_ms set). Event fields it reads: "sleep" (seconds), "fail" (any value).
handler() {
    event=$1
    echo "handling $request_id" >&2
    case $event in
        *'"fail"'*)
            echo "asked to fail" >&2
            return 3
            ;;
    esac
    seconds=$(printf '%s' "$event" | sed -n 's/.*"sleep":[[:space:]]*\([0-9][0-9]*\).*/\1/p')
    [ -z "$seconds" ] || sleep "$seconds"
    remaining_ms=$((deadline_ms - $(date +%s%3N)))
    printf '{"event":%s,"requestId":"%s","remainingMs":%s,"handler":"%s","machine":"%s","executionEnv":"%s","traceId":"%s"}' \
        "$event" "$request_id" "$remaining_ms" "$_HANDLER" "$(uname -m)" "${AWS_EXECUTION_ENV:-}" \
        "${_X_AMZN_TRACE_ID:-}"
}
