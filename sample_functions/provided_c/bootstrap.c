/*
 * A custom runtime in C for the OS-only runtimes (provided.al2, provided.al2023): the executable Lambda runs
 * as /var/task/bootstrap, speaking the Runtime API (2018-06-01) over plain HTTP/1.1 sockets.
 *
 * Build it statically, so it runs on any Lambda OS whatever its glibc (Amazon Linux 2 has 2.26):
 *   gcc -O2 -static -o bootstrap bootstrap.c
 *
 * The handler answers {"runtime":"c","requestId":...,"remainingMs":...,"event":<the event>}; an event
 * holding "fail" is posted to /error as a CFailure, to show the error path.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define API "/2018-06-01/runtime"

static char host[256], port[16];

/* Open a connection to the Runtime API at AWS_LAMBDA_RUNTIME_API (host:port). Lambda's is numeric
 * (127.0.0.1:9001), which a static binary resolves without loading anything; a host name (lambda-emu gives
 * one) goes through the image's own NSS modules, which gcc's link-time warning is about. */
static int api_connect(void) {
    struct addrinfo hints = {0}, *found, *each;
    int fd = -1;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &found) != 0) return -1;
    for (each = found; each; each = each->ai_next) {
        fd = socket(each->ai_family, each->ai_socktype, each->ai_protocol);
        if (fd >= 0 && connect(fd, each->ai_addr, each->ai_addrlen) == 0) break;
        if (fd >= 0) close(fd);
        fd = -1;
    }
    freeaddrinfo(found);
    return fd;
}

static int send_all(int fd, const char *data, size_t size) {
    while (size > 0) {
        ssize_t sent = write(fd, data, size);
        if (sent < 0 && errno == EINTR) continue;
        if (sent <= 0) return -1;
        data += sent;
        size -= (size_t)sent;
    }
    return 0;
}

struct reply {
    char *body;  /* malloc'ed, NUL-terminated */
    size_t body_size;
    char request_id[128];
    long long deadline_ms;
};

/* The value of header `name` in the header block `head`, copied into out (empty when absent). */
static void header(const char *head, const char *name, char *out, size_t out_size) {
    size_t name_len = strlen(name);
    const char *line = head;
    out[0] = '\0';
    while (line && *line) {
        if (strncasecmp(line, name, name_len) == 0 && line[name_len] == ':') {
            const char *value = line + name_len + 1, *end;
            while (*value == ' ') value++;
            end = strstr(value, "\r\n");
            size_t len = end ? (size_t)(end - value) : strlen(value);
            if (len >= out_size) len = out_size - 1;
            memcpy(out, value, len);
            out[len] = '\0';
            return;
        }
        line = strstr(line, "\r\n");
        if (line) line += 2;
    }
}

/* One request on a connection of its own; the reply's body and headers. */
static int request(const char *method, const char *path, const char *extra_headers, const char *body,
                   struct reply *reply) {
    int fd = api_connect();
    if (fd < 0) return -1;
    size_t body_size = body ? strlen(body) : 0;
    char head[1024];
    int head_size = snprintf(head, sizeof head,
                             "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n%sContent-Length: %zu\r\n\r\n",
                             method, path, host, port, extra_headers ? extra_headers : "", body_size);
    if (send_all(fd, head, (size_t)head_size) != 0 || (body_size && send_all(fd, body, body_size) != 0)) {
        close(fd);
        return -1;
    }
    /* Read the head, then exactly Content-Length bytes of body: the API may keep the connection open. */
    size_t size = 0, capacity = 65536, wanted = (size_t)-1, body_at = 0; /* offsets: realloc moves data */
    char *data = malloc(capacity + 1);
    while (size < wanted) {
        if (size == capacity) data = realloc(data, (capacity *= 2) + 1);
        ssize_t got = read(fd, data + size, capacity - size);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        size += (size_t)got;
        data[size] = '\0';
        char *end_of_head = body_at ? NULL : strstr(data, "\r\n\r\n");
        if (end_of_head) {
            char length[32];
            *end_of_head = '\0';
            header(data, "Content-Length", length, sizeof length);
            *end_of_head = '\r';
            body_at = (size_t)(end_of_head + 4 - data);
            wanted = body_at + (size_t)atoll(length);
        }
    }
    close(fd);
    data[size] = '\0';
    if (!body_at) {
        free(data);
        return -1;
    }
    data[body_at - 4] = '\0'; /* the head, for header() */
    char value[64];
    header(data, "Lambda-Runtime-Aws-Request-Id", reply->request_id, sizeof reply->request_id);
    header(data, "Lambda-Runtime-Deadline-Ms", value, sizeof value);
    reply->deadline_ms = atoll(value);
    reply->body_size = size - body_at;
    reply->body = malloc(reply->body_size + 1);
    memcpy(reply->body, data + body_at, reply->body_size);
    reply->body[reply->body_size] = '\0';
    free(data);
    return 0;
}

static long long now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int main(void) {
    const char *address = getenv("AWS_LAMBDA_RUNTIME_API");
    const char *colon = address ? strrchr(address, ':') : NULL;
    if (!colon || (size_t)(colon - address) >= sizeof host) {
        fprintf(stderr, "AWS_LAMBDA_RUNTIME_API is not host:port\n");
        return 1;
    }
    memcpy(host, address, (size_t)(colon - address));
    snprintf(port, sizeof port, "%s", colon + 1);

    for (;;) {
        struct reply next = {0}, posted = {0};
        if (request("GET", API "/invocation/next", NULL, NULL, &next) != 0) {
            fprintf(stderr, "cannot reach the Runtime API at %s\n", address);
            return 1;
        }
        printf("c handling %s\n", next.request_id);
        fflush(stdout);
        char path[256];
        if (strstr(next.body, "\"fail\"")) {
            snprintf(path, sizeof path, API "/invocation/%s/error", next.request_id);
            request("POST", path, "Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: CFailure\r\n",
                    "{\"errorMessage\":\"asked to fail\",\"errorType\":\"CFailure\",\"stackTrace\":[]}", &posted);
        } else {
            size_t size = next.body_size + 256;
            char *answer = malloc(size);
            snprintf(answer, size, "{\"runtime\":\"c\",\"requestId\":\"%s\",\"remainingMs\":%lld,\"event\":%s}",
                     next.request_id, next.deadline_ms - now_ms(), next.body_size ? next.body : "null");
            snprintf(path, sizeof path, API "/invocation/%s/response", next.request_id);
            request("POST", path, "Content-Type: application/json\r\n", answer, &posted);
            free(answer);
        }
        free(next.body);
        free(posted.body);
    }
}
