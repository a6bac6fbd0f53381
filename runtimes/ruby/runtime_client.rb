# frozen_string_literal: true

# lambda-emu's Ruby runtime client, run inside the container as /var/runtime/runtime_client.rb: loads the
# handler, then serves the Runtime API loop (GET /next -> handler -> POST result) as Lambda's Ruby runtime
# does. Ruby's standard library only (json, net/http, stringio).

require 'json'
require 'net/http'
require 'stringio'

module LambdaEmuRuntime
  # ---- wire names: this file runs without the emulator package, so it mirrors lambda_emu/wire.py
  # (tests/unit/test_ruby_runtime_client.py checks that the two agree).
  RUNTIME_API_VERSION = '2018-06-01'
  RUNTIME_PREFIX = "/#{RUNTIME_API_VERSION}/runtime"
  PATH_NEXT = "#{RUNTIME_PREFIX}/invocation/next"
  PATH_INIT_ERROR = "#{RUNTIME_PREFIX}/init/error"
  INVOCATION_PREFIX = "#{RUNTIME_PREFIX}/invocation/"
  H_REQUEST_ID = 'Lambda-Runtime-Aws-Request-Id'
  H_DEADLINE_MS = 'Lambda-Runtime-Deadline-Ms'
  H_FUNCTION_ARN = 'Lambda-Runtime-Invoked-Function-Arn'
  H_TRACE_ID = 'Lambda-Runtime-Trace-Id'
  H_CLIENT_CONTEXT = 'Lambda-Runtime-Client-Context'
  H_COGNITO_IDENTITY = 'Lambda-Runtime-Cognito-Identity'
  H_FUNCTION_ERROR_TYPE = 'Lambda-Runtime-Function-Error-Type'
  ENV_LOG_MARKER = '_LAMBDA_EMU_LOG_MARKER'
  PATH_LOG_TOKEN = '/lambda-emu/log-token'

  # Lambda's Ruby runtime names these classes in the Lambda-Runtime-Function-Error-Type header and any other
  # as Function<UserException>; the body's errorType always names the class.
  NAMED_ERROR_CLASSES = %w[
    ArgumentError NoMethodError Exception StandardError NameError LoadError SystemExit SystemStackError
  ].freeze
  # A failed init ends the runtime with exit(-4), a critical handler exception with exit(-1).
  INIT_ERROR_EXIT = -4
  CRITICAL_EXIT = -1
  RUNTIME_FILE = File.expand_path(__FILE__)
  # Lambda's Ruby runtime reports at most this many frames.
  MAX_FRAMES = 100

  # Whether the last byte written to $stdout / $stderr ended a line (with a marker both are one pipe).
  @at_line_start = true
  class << self
    attr_accessor :at_line_start
  end

  # $stdout and $stderr: every write reaches the descriptor at once (Lambda's runtime sets $stdout.sync), and
  # the last byte written tells a marker whether the function left a line unfinished. Kernel#puts, print
  # and the Logger all write through #write; IO's own formatting methods are rebuilt on it.
  class TrackedOutput
    def initialize(io)
      @io = io
      @io.sync = true
    end

    def write(*parts)
      written = @io.write(*parts)
      last = parts.reverse_each.map(&:to_s).find { |part| !part.empty? }
      LambdaEmuRuntime.at_line_start = last.end_with?("\n") if last
      written
    end

    def <<(obj)
      write(obj)
      self
    end

    %i[puts print printf putc].each do |name|
      define_method(name) do |*args|
        buffer = StringIO.new
        buffer.public_send(name, *args)
        write(buffer.string)
        nil
      end
    end

    def respond_to_missing?(name, include_private = false)
      @io.respond_to?(name, include_private) || super
    end

    def method_missing(name, *args, **kwargs, &block)
      return super unless @io.respond_to?(name)

      @io.public_send(name, *args, **kwargs, &block)
    end
  end

  # The emulator's log cut points (runtimes/README.md): '<token> READY' once init output is complete and
  # '<token> END <request id>' once an invocation's output is, each on a line of its own.
  class LogMarker
    def initialize(token)
      @prefix = "#{token} "
      # A descriptor of its own (close-on-exec, so no subprocess inherits it): a function that closes
      # $stdout still has its invocation's log ended.
      @out = STDOUT.dup
      @out.sync = true
    end

    def ready
      emit('READY')
    end

    def end_of(request_id)
      emit("END #{request_id}")
    end

    private

    def emit(word)
      lead = LambdaEmuRuntime.at_line_start ? '' : "\n"
      @out.write("#{lead}#{@prefix}#{word}\n")
      LambdaEmuRuntime.at_line_start = true
    rescue IOError, SystemCallError
      nil # the log's end is then found by the emulator's own grace period
    end
  end

  # The Runtime API cannot be used at all: the runtime has nothing left to do but exit.
  class ApiUnreachable < StandardError; end

  # One keep-alive HTTP/1.1 connection to the Runtime API (Net::HTTP sets TCP_NODELAY).
  class RuntimeApi
    def initialize(address)
      host, _, port = address.rpartition(':')
      @http = Net::HTTP.new(host, Integer(port, 10))
      @http.read_timeout = nil # GET /next blocks until an event exists
      @http.keep_alive_timeout = 24 * 3600 # one connection for the environment's life
      @http.max_retries = 1 # a GET on a connection the server closed is sent again; a POST never is
    rescue ArgumentError => e
      raise ApiUnreachable, "AWS_LAMBDA_RUNTIME_API=#{address.inspect} is not host:port (#{e.message})"
    end

    def log_token
      response = request(Net::HTTP::Get.new(PATH_LOG_TOKEN))
      raise ApiUnreachable, "GET #{PATH_LOG_TOKEN} returned #{response.code}" unless response.code == '200'

      response.body.to_s.strip
    end

    def next_invocation
      response = request(Net::HTTP::Get.new(PATH_NEXT))
      raise ApiUnreachable, "GET #{PATH_NEXT} returned #{response.code}: #{response.body.to_s[0, 200]}" \
        unless response.code == '200'

      response
    end

    # Any non-202 reply (413 for an oversized result) is the emulator's to report, not a reason to stop.
    def post_response(request_id, body, content_type)
      post("#{INVOCATION_PREFIX}#{request_id}/response", body, 'Content-Type' => content_type)
    end

    def post_error(request_id, error)
      post_error_to("#{INVOCATION_PREFIX}#{request_id}/error", error)
    end

    def post_init_error(error)
      post_error_to(PATH_INIT_ERROR, error)
    end

    private

    def post_error_to(path, error)
      headers = { 'Content-Type' => 'application/json', H_FUNCTION_ERROR_TYPE => error.header_type }
      post(path, JSON.generate(error.to_lambda_response), headers)
    end

    def post(path, body, headers)
      post = Net::HTTP::Post.new(path, headers)
      post.body = body
      request(post)
    end

    def request(req)
      @http.start unless @http.started?
      @http.request(req)
    rescue IOError, SystemCallError, Net::ProtocolError, Timeout::Error, SocketError => e
      raise ApiUnreachable, "#{req.method} #{req.path}: #{e.class}: #{e.message}"
    end
  end

  # An exception as Lambda's Ruby runtime reports it: errorType "Function<Class>" for the handler's,
  # "Init<Class>" for a failed init, and the user's frames (up to the first of the runtime's own).
  class ReportedError
    attr_reader :error_type

    def initialize(exception, classification)
      @class_name = exception.class.to_s
      @error_type = "#{classification}<#{@class_name}>"
      @message = exception.message
      @frames = ReportedError.user_frames(exception.backtrace_locations)
    end

    def self.user_frames(locations)
      frames = []
      (locations || []).first(MAX_FRAMES).each do |location|
        break if location.absolute_path == RUNTIME_FILE || location.path == RUNTIME_FILE

        frames << location.to_s
      end
      frames
    end

    def header_type
      NAMED_ERROR_CLASSES.include?(@class_name) ? @error_type : 'Function<UserException>'
    end

    def to_lambda_response
      { errorMessage: @message, errorType: @error_type, stackTrace: @frames }
    end

    # Lambda's Ruby runtime logs a message line, then the error body as pretty JSON.
    def log(message)
      $stdout.puts(message)
      $stdout.puts(JSON.pretty_generate(to_lambda_response))
    end
  end

  # The handler: FILE.METHOD (a method defined at the file's top level) or FILE.CLASS.METHOD (a class-level
  # method; CLASS may be namespaced, Module::Class), called with the keyword arguments event: and context:.
  class Handler
    attr_reader :file_name

    def initialize(spec)
      parts = spec.split('.')
      case parts.size
      when 2 then @file_name, @method_name = parts
      when 3 then @file_name, @class_name, @method_name = parts
      else
        # Lambda's own text for a handler of another shape.
        raise ArgumentError, "Invalid handler #{parts}, must be of form FILENAME.METHOD or FILENAME.CLASS.METHOD " \
                             'where FILENAME corresponds with an existing Ruby source file FILENAME.rb, CLASS is an ' \
                             'optional module/class namespace and METHOD is a callable method. If using CLASS, ' \
                             'METHOD must be a class-level method.'
      end
    end

    def call(event, context)
      receiver = @class_name ? Kernel.const_get(@class_name) : TOPLEVEL_BINDING.receiver
      # send, not public_send: a method defined at a file's top level is a private method of Object.
      receiver.send(@method_name, event: event, context: context)
    end
  end

  # The context object Lambda's Ruby runtime passes as context:.
  class LambdaContext
    attr_reader :aws_request_id, :invoked_function_arn, :log_group_name, :log_stream_name, :function_name,
                :memory_limit_in_mb, :function_version, :identity, :client_context, :deadline_ms

    def initialize(response)
      # The deadline header is an epoch in ms: remaining time is measured on the monotonic clock, offset once.
      @clock_diff = Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond) -
                    Process.clock_gettime(Process::CLOCK_MONOTONIC, :millisecond)
      @deadline_ms = response[H_DEADLINE_MS].to_i
      @aws_request_id = response[H_REQUEST_ID]
      @invoked_function_arn = response[H_FUNCTION_ARN]
      @log_group_name = ENV['AWS_LAMBDA_LOG_GROUP_NAME']
      @log_stream_name = ENV['AWS_LAMBDA_LOG_STREAM_NAME']
      @function_name = ENV['AWS_LAMBDA_FUNCTION_NAME']
      @memory_limit_in_mb = ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE'] # a String, as Lambda's runtime gives it
      @function_version = ENV['AWS_LAMBDA_FUNCTION_VERSION']
      @identity = JSON.parse(response[H_COGNITO_IDENTITY]) if response[H_COGNITO_IDENTITY]
      @client_context = JSON.parse(response[H_CLIENT_CONTEXT]) if response[H_CLIENT_CONTEXT]
    end

    def get_remaining_time_in_millis # rubocop:disable Naming/AccessorMethodName (Lambda's name)
      remaining = @deadline_ms - (Process.clock_gettime(Process::CLOCK_MONOTONIC, :millisecond) + @clock_diff)
      remaining.positive? ? remaining : 0
    end
  end

  module_function

  def event_of(response)
    body = response.body.to_s.dup.force_encoding(Encoding::UTF_8)
    response['Content-Type'] == 'application/json' ? JSON.parse(body) : body
  end

  # A result as Lambda's Ruby runtime posts it: its to_json, or an IO's bytes as application/unknown.
  def marshal(result)
    return [result.read.to_s, 'application/unknown'] if result.is_a?(StringIO) || result.is_a?(IO)

    [result.to_json, 'application/json']
  end

  def trace_id=(value)
    if value && !value.empty?
      ENV['_X_AMZN_TRACE_ID'] = value
    else
      ENV.delete('_X_AMZN_TRACE_ID')
    end
  end

  # One invocation. A StandardError is the handler's error and the runtime lives on; NameError
  # (NoMethodError: a handler method that does not exist) and exceptions outside StandardError (exit
  # included) are critical, as in Lambda: posted, then the runtime exits. Returns false after a critical one.
  def handle(api, handler, response, marker)
    request_id = response[H_REQUEST_ID]
    self.trace_id = response[H_TRACE_ID]
    begin
      body, content_type = marshal(handler.call(event_of(response), LambdaContext.new(response)))
    rescue Exception => e # rubocop:disable Lint/RescueException
      critical = e.is_a?(NameError) || !e.is_a?(StandardError)
      error = ReportedError.new(e, 'Function')
      error.log(critical ? 'Critical exception from handler' : 'Error raised from handler method')
      output_complete(marker, request_id)
      api.post_error(request_id, error)
      return !critical
    end
    output_complete(marker, request_id)
    api.post_response(request_id, body, content_type)
    true
  end

  def output_complete(marker, request_id)
    $stdout.flush
    $stderr.flush
    marker&.end_of(request_id)
  end

  def fatal(reason)
    STDERR.write("lambda-emu runtime client: #{reason}\n")
    exit!(1) # nothing is left to do: do not wait for the function's threads or at_exit handlers
  end

  def main
    # Popped first, so the function never sees it (and nor do its subprocesses).
    markers = ENV.delete(ENV_LOG_MARKER)
    address = ENV['AWS_LAMBDA_RUNTIME_API']
    fatal('AWS_LAMBDA_RUNTIME_API is not set') if address.nil? || address.empty?
    api = RuntimeApi.new(address)
    token = markers && !markers.empty? ? api.log_token : nil # before any user code: the only call answered
    STDERR.reopen(STDOUT) if token # one ordered stream, as Lambda merges stdout and stderr into one log
    $stdout = TrackedOutput.new(STDOUT)
    $stderr = TrackedOutput.new(STDERR)
    marker = token ? LogMarker.new(token) : nil

    task_root = ENV['LAMBDA_TASK_ROOT'] || '/var/task'
    begin
      Dir.chdir(task_root)
    rescue SystemCallError
      nil # the require below reports the missing code
    end
    $LOAD_PATH.unshift(task_root) unless $LOAD_PATH.include?(task_root)
    handler_spec = ENV['_HANDLER'].to_s
    begin
      handler = Handler.new(handler_spec)
      require handler.file_name
    rescue Exception => e # rubocop:disable Lint/RescueException (a LoadError, SyntaxError or the file's own)
      error = ReportedError.new(e, 'Init')
      error.log("Init error when loading handler #{handler_spec}")
      $stdout.flush
      api.post_init_error(error)
      exit(INIT_ERROR_EXIT)
    end

    marker&.ready
    loop do
      break unless handle(api, handler, api.next_invocation, marker)
    end
    exit(CRITICAL_EXIT)
  rescue ApiUnreachable => e
    fatal(e.message)
  end
end

LambdaEmuRuntime.main if $PROGRAM_NAME == __FILE__
