// lambda-emu's Node.js runtime client, run inside the container as /var/runtime/index.mjs: loads the
// handler, then serves the Runtime API loop (GET /next -> handler -> POST result) as AWS's Node.js runtime
// interface client does, as Lambda users see it (runtimes/README.md).
//
// Plain JavaScript, Node's standard library only. It is an ES module named /var/runtime/index.mjs as AWS's
// is, so that module-not-found messages read as on Lambda ("Require stack:\n- /var/runtime/index.mjs").

import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import util from 'node:util';

// ---- wire names: this file runs without the emulator package, so it mirrors lambda_emu/wire.py
// (tests/unit/test_runtimes.py checks that the two agree).
const RUNTIME_API_VERSION = '2018-06-01';
const RUNTIME_PREFIX = `/${RUNTIME_API_VERSION}/runtime`;
const PATH_NEXT = `${RUNTIME_PREFIX}/invocation/next`;
const PATH_INIT_ERROR = `${RUNTIME_PREFIX}/init/error`;
const INVOCATION_PREFIX = `${RUNTIME_PREFIX}/invocation/`;
const H_REQUEST_ID = 'Lambda-Runtime-Aws-Request-Id';
const H_DEADLINE_MS = 'Lambda-Runtime-Deadline-Ms';
const H_FUNCTION_ARN = 'Lambda-Runtime-Invoked-Function-Arn';
const H_TRACE_ID = 'Lambda-Runtime-Trace-Id';
const H_CLIENT_CONTEXT = 'Lambda-Runtime-Client-Context';
const H_COGNITO_IDENTITY = 'Lambda-Runtime-Cognito-Identity';
const H_TENANT_ID = 'Lambda-Runtime-Aws-Tenant-Id';
const H_FUNCTION_ERROR_TYPE = 'Lambda-Runtime-Function-Error-Type';
const H_FUNCTION_ERROR_BODY = 'Lambda-Runtime-Function-Error-Body';
const H_RESPONSE_MODE = 'Lambda-Runtime-Function-Response-Mode';
const RESPONSE_MODE_STREAMING = 'streaming';
const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const ENV_LOG_MARKER = '_LAMBDA_EMU_LOG_MARKER';
const PATH_LOG_TOKEN = '/lambda-emu/log-token';

const DEFAULT_TASK_ROOT = '/var/task';
// Exit statuses of AWS's Node.js runtime after an uncaught exception / unhandled rejection was reported.
const EXIT_UNCAUGHT_EXCEPTION = 129;
const EXIT_UNHANDLED_REJECTION = 128;

// Captured before any user code runs: tracing SDKs replace http.request (X-Ray's captureHTTPsGlobal),
// which must never trace the runtime's own calls.
const httpRequest = http.request;
const HttpAgent = http.Agent;
// require() as seen from this file: a missing module's "Require stack" ends with /var/runtime/index.mjs.
const runtimeRequire = createRequire(import.meta.url);

// ---- errors: the runtime's own faults, named as Lambda names them
function faultType(errorType) {
  const Fault = class extends Error {};
  // On the prototype, not the instance: V8 writes the stack's first line at construction, and Lambda's
  // read "Runtime.ImportModuleError: Error: Cannot find module 'index'".
  Object.defineProperty(Fault.prototype, 'name', { value: errorType, writable: true, configurable: true });
  return Fault;
}

// Each takes a reason; an Error reason becomes its "Name: message" text, as in Lambda's messages.
const ImportModuleError = faultType('Runtime.ImportModuleError');
const HandlerNotFound = faultType('Runtime.HandlerNotFound');
const MalformedHandlerName = faultType('Runtime.MalformedHandlerName');
const UserCodeSyntaxError = faultType('Runtime.UserCodeSyntaxError');
const UnhandledPromiseRejectionBase = faultType('Runtime.UnhandledPromiseRejection');

class UnhandledPromiseRejection extends UnhandledPromiseRejectionBase {
  constructor(reason, promise) {
    super(safeString(reason));
    this.reason = reason;
    this.promise = promise;
  }
}

function safeString(value) {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function isErrorLike(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof value.name === 'string' &&
    typeof value.message === 'string' &&
    typeof value.stack === 'string'
  );
}

/** The body posted to /error and /init/error: {errorType, errorMessage, trace} as Lambda's Node.js
 * runtime posts it; a value that is not an Error is reported as its typeof and its text. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      const stack = typeof error.stack === 'string' ? error.stack : '';
      return { errorType: error.name, errorMessage: error.message, trace: stack ? stack.split('\n') : [] };
    }
    return { errorType: typeof error, errorMessage: safeString(error), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of ' +
        'its message, name, and stack',
    };
  }
}

function withEnumerableProperties(value) {
  if (value instanceof Error) {
    const expanded = Object.assign({ errorType: value.name, errorMessage: value.message, code: value.code }, value);
    if (typeof value.stack === 'string') expanded.stack = value.stack.split('\n');
    return expanded;
  }
  return value;
}

/** An error as Lambda logs it after "Invoke Error" / "Uncaught Exception": a TAB, then JSON with the
 * error's own enumerable fields and its stack as an array of lines. */
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_key, value) => withEnumerableProperties(value));
  } catch {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

// ---- output: one ordered stream, with marker lines that always start a line
const output = {
  atLineStart: true,
  rawWrite: null, // stdout's own write, for the markers
};

function trackLine(chunk) {
  if (typeof chunk === 'string') {
    if (chunk.length > 0) output.atLineStart = chunk.endsWith('\n');
  } else if (chunk && chunk.length > 0) {
    output.atLineStart = chunk[chunk.length - 1] === 0x0a;
  }
}

/** Track whether the last write ended a line; with `merge`, send process.stderr's writes down stdout
 * too (Node cannot dup2 its own descriptors; the bootstrap merges fd 2 for subprocesses). Writes to a
 * pipe or a file are synchronous in Node on Linux, so the order of writes is the order in the log. */
function installOutput(merge) {
  const stdout = process.stdout;
  const ownWrite = stdout.write;
  output.rawWrite = (data, callback) => ownWrite.call(stdout, data, callback);
  const tracked = function write(chunk, encoding, callback) {
    trackLine(chunk);
    return ownWrite.call(stdout, chunk, encoding, callback);
  };
  stdout.write = tracked;
  if (merge) process.stderr.write = tracked;
}

/** The emulator's log cut points: '<token> READY' once init output is complete and '<token> END <id>'
 * once an invocation's output is, each on a line of its own; `then` runs once the line is written. */
class LogMarker {
  constructor(token) {
    this.prefix = `${token} `;
  }

  ready(then) {
    this.emit('READY', then);
  }

  end(requestId, then) {
    this.emit(`END ${requestId}`, then);
  }

  emit(word, then) {
    const lead = output.atLineStart ? '' : '\n';
    output.atLineStart = true;
    output.rawWrite(`${lead}${this.prefix}${word}\n`, () => then());
  }
}

function outputComplete(marker, requestId, then) {
  if (marker) {
    marker.end(requestId, then);
  } else {
    process.stdout.write('', () => then()); // after everything written before it
  }
}

// ---- logging: console as Lambda's Node.js runtime patches it
const LEVELS = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };
// The request id in log lines: the current invocation's, kept until the next one; "undefined" before
// the first, as Lambda writes during init.
const current = { requestId: undefined, invocation: null };

function logLine(level, args) {
  const line = `${new Date().toISOString()}\t${current.requestId}\t${level}\t${util.format(...args)}\n`;
  process.stdout.write(line);
}

/** console.trace/debug/info/log/warn/error/fatal write '<ISO time>\t<request id>\t<LEVEL>\t<message>'
 * to stdout; levels below AWS_LAMBDA_LOG_LEVEL (default: all) write nothing. */
function patchConsole(levelName) {
  const threshold = LEVELS[String(levelName ?? '').trim().toUpperCase()] ?? LEVELS.TRACE;
  const writer = (level) => (LEVELS[level] >= threshold ? (...args) => logLine(level, args) : () => {});
  console.trace = writer('TRACE');
  console.debug = writer('DEBUG');
  console.info = writer('INFO');
  console.log = writer('INFO');
  console.warn = writer('WARN');
  console.error = writer('ERROR');
  console.fatal = writer('FATAL');
}

// ---- the handler
const HANDLER_EXPRESSION = /^([^.]*)\.(.*)$/;

function existsPath(file) {
  try {
    return existsSync(file);
  } catch {
    return false;
  }
}

/** Whether the package.json nearest to `file` says "type": "module" (Node's rule for .js files). */
function inModulePackage(file) {
  let folder = path.dirname(file);
  for (;;) {
    if (path.basename(folder) === 'node_modules') return false;
    const packageJson = path.join(folder, 'package.json');
    if (existsPath(packageJson)) {
      try {
        const manifest = JSON.parse(readFileSync(packageJson, 'utf8'));
        return Boolean(manifest) && manifest.type === 'module';
      } catch (err) {
        console.warn(`${packageJson} cannot be read, it will be ignored for ES module detection purposes.`, err);
        return false;
      }
    }
    const parent = path.dirname(folder);
    if (parent === folder) return false;
    folder = parent;
  }
}

async function importFile(file) {
  return import(pathToFileURL(file).href);
}

/** The user's module, in Lambda's order: the extensionless file, then `.js` (CommonJS, or ESM under a
 * "type": "module" package.json), `.mjs`, `.cjs`; else require() of the bare name (NODE_PATH). */
async function loadModule(taskRoot, moduleRoot, moduleName) {
  const stem = path.resolve(taskRoot, moduleRoot, moduleName);
  try {
    if (existsPath(stem)) return runtimeRequire(stem);
    const esm = inModulePackage(stem);
    if (existsPath(`${stem}.js`)) return esm ? await importFile(`${stem}.js`) : runtimeRequire(`${stem}.js`);
    if (existsPath(`${stem}.mjs`)) return await importFile(`${stem}.mjs`);
    if (existsPath(`${stem}.cjs`)) return runtimeRequire(`${stem}.cjs`);
    return runtimeRequire(moduleName); // throws "Cannot find module '<name>'" when nothing has that name
  } catch (err) {
    if (err instanceof SyntaxError) throw new UserCodeSyntaxError(err);
    // A CommonJS module that is missing (or that requires a missing one). ESM's ERR_MODULE_NOT_FOUND
    // ("Cannot find package 'x' imported from ...") is reported as the plain Error it is, as on Lambda.
    if (err && err.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(err);
    throw err;
  }
}

/** The function named by _HANDLER, "path/file.export" (the export may be nested: "file.a.b"). */
export async function loadHandler(taskRoot, fullHandler) {
  if (fullHandler.includes('..')) throw new MalformedHandlerName("'..' is not allowed in handler name");
  const base = path.basename(fullHandler);
  const moduleRoot = fullHandler.slice(0, fullHandler.length - base.length);
  const match = HANDLER_EXPRESSION.exec(base);
  if (!match) throw new MalformedHandlerName('Bad handler');
  const [, moduleName, exportPath] = match;
  const userModule = await loadModule(taskRoot, moduleRoot, moduleName);
  const handler = exportPath.split('.').reduce((value, key) => (value ? value[key] : undefined), userModule);
  if (!handler) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof handler !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return handler;
}

// ---- the Runtime API
class ApiUnreachable extends Error {}

class RuntimeApiClient {
  constructor(address) {
    this.address = address;
    const colon = address.lastIndexOf(':');
    this.host = address.slice(0, colon).replace(/^\[|\]$/g, '');
    this.port = Number(address.slice(colon + 1));
    // One keep-alive connection. The agent unrefs it while idle, so it never keeps the event loop
    // alive: an empty loop still means the function's own work is done (callbackWaitsForEmptyEventLoop).
    this.agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  }

  async request(method, urlPath, body, headers = {}) {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.exchange(method, urlPath, body, headers);
      } catch (err) {
        // A keep-alive connection the peer dropped: the agent opens a new one on the second try.
        if (attempt >= 2) {
          throw new ApiUnreachable(`cannot reach the Runtime API at ${this.address} (${method} ${urlPath}): ${err}`);
        }
      }
    }
  }

  exchange(method, urlPath, body, headers) {
    return new Promise((resolve, reject) => {
      const allHeaders = { ...headers };
      if (body !== undefined) allHeaders['Content-Length'] = body.length;
      const req = httpRequest(
        { host: this.host, port: this.port, method, path: urlPath, agent: this.agent, headers: allHeaders },
        (res) => {
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      // Small request/reply pairs would otherwise wait out a delayed ACK.
      req.setNoDelay(true);
      req.end(body);
    });
  }

  // The environment's log token: given once per runtime start, to this call before any user code.
  async logToken() {
    const reply = await this.request('GET', PATH_LOG_TOKEN);
    if (reply.status !== 200) {
      throw new ApiUnreachable(`GET ${PATH_LOG_TOKEN} returned ${reply.status}: ${reply.body.toString().slice(0, 200)}`);
    }
    return reply.body.toString().trim();
  }

  async nextInvocation() {
    const reply = await this.request('GET', PATH_NEXT);
    if (reply.status !== 200) {
      throw new ApiUnreachable(`GET ${PATH_NEXT} returned ${reply.status}: ${reply.body.toString().slice(0, 200)}`);
    }
    return reply;
  }

  async postResponse(requestId, body) {
    // Any non-202 (413 for an oversized result) is the emulator's to report, not a reason to stop.
    const headers = { 'Content-Type': 'application/json' };
    return (await this.request('POST', `${INVOCATION_PREFIX}${requestId}/response`, body, headers)).status;
  }

  /** POST /response in streaming mode: chunked, its head sent at once, an error told in trailers (Lambda's
   * Runtime API, "Response streaming"). The request, and a promise of the API's status once it ends. */
  openStream(requestId, contentType) {
    let req;
    const status = new Promise((resolve, reject) => {
      const headers = {
        [H_RESPONSE_MODE]: RESPONSE_MODE_STREAMING,
        'Transfer-Encoding': 'chunked',
        'Content-Type': contentType,
        Trailer: `${H_FUNCTION_ERROR_TYPE}, ${H_FUNCTION_ERROR_BODY}`,
      };
      const urlPath = `${INVOCATION_PREFIX}${requestId}/response`;
      const options = { host: this.host, port: this.port, method: 'POST', path: urlPath, agent: this.agent, headers };
      req = httpRequest(options, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
        res.on('error', reject);
      });
      req.on('error', (err) => reject(new ApiUnreachable(`cannot stream to the Runtime API at ${this.address}: ${err}`)));
    });
    req.setNoDelay(true);
    req.flushHeaders();
    return { req, status };
  }

  async postError(requestId, error) {
    return this.postErrorTo(`${INVOCATION_PREFIX}${requestId}/error`, error);
  }

  async postInitError(error) {
    return this.postErrorTo(PATH_INIT_ERROR, error);
  }

  async postErrorTo(urlPath, error) {
    const rapid = toRapidResponse(error);
    let text;
    try {
      text = JSON.stringify(rapid);
    } catch {
      text = JSON.stringify({ errorType: safeString(rapid.errorType), errorMessage: safeString(rapid.errorMessage) });
    }
    const headers = {
      'Content-Type': 'application/json',
      [H_FUNCTION_ERROR_TYPE]: headerValue(rapid.errorType),
    };
    return (await this.request('POST', urlPath, Buffer.from(text, 'utf8'), headers)).status;
  }
}

/** A header cannot carry control or non-ASCII characters: escape them as Lambda's runtime does %7F. */
function headerValue(value) {
  return safeString(value).replace(/[^\x20-\x7e]/g, (ch) => encodeURIComponent(ch));
}

// ---- response streaming: awslambda.streamifyResponse and awslambda.HttpResponseStream, as Lambda's Node.js
// runtime defines them on the global `awslambda`.
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';

function streamifyResponse(handler, options) {
  handler[HANDLER_STREAMING] = STREAM_RESPONSE;
  const mark = options && options.highWaterMark !== undefined ? Number.parseInt(options.highWaterMark, 10) : NaN;
  if (Number.isInteger(mark) && mark > 0) handler[HANDLER_HIGHWATERMARK] = mark;
  return handler;
}

class HttpResponseStream {
  /** The stream with its HTTP status, headers and cookies first: a JSON prelude and eight NUL bytes, read by
   * Function URLs (content type application/vnd.awslambda.http-integration-response). */
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(HTTP_INTEGRATION_CONTENT_TYPE);
    const metadata = JSON.stringify(prelude ?? {});
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadata);
      write(new Uint8Array(8));
    };
    return underlyingStream;
  }
}

globalThis.awslambda = { ...(globalThis.awslambda ?? {}), streamifyResponse, HttpResponseStream };

/** The handler's responseStream: a Writable whose chunks go to the Runtime API as they are written. The
 * POST starts at the first write (or the end), so setContentType works until then. */
class ResponseStream extends Writable {
  constructor(api, requestId, onEnd, highWaterMark) {
    super(highWaterMark ? { highWaterMark } : {});
    this.api = api;
    this.requestId = requestId;
    this.onEnd = onEnd;
    this.contentType = 'application/octet-stream';
    this.req = null;
    this.status = null;
    this._onBeforeFirstWrite = null;
  }

  setContentType(contentType) {
    if (this.req) throw new Error('Cannot set content-type, too late.');
    this.contentType = contentType;
  }

  get opened() {
    return this.req !== null;
  }

  open() {
    if (this.req) return;
    const { req, status } = this.api.openStream(this.requestId, this.contentType);
    this.req = req;
    this.status = status;
    status.catch(() => {}); // told by close()
    const before = this._onBeforeFirstWrite;
    this._onBeforeFirstWrite = null;
    if (before) before((data) => req.write(data));
  }

  _write(chunk, _encoding, callback) {
    this.open();
    this.req.write(chunk, () => callback());
  }

  _final(callback) {
    this.onEnd(undefined);
    callback();
  }

  /** End the POST, with the error in its trailers when there is one; the API's status. */
  close(error) {
    this.open();
    if (error !== undefined) {
      const rapid = toRapidResponse(error);
      this.req.addTrailers({
        [H_FUNCTION_ERROR_TYPE]: headerValue(rapid.errorType),
        [H_FUNCTION_ERROR_BODY]: Buffer.from(JSON.stringify(rapid), 'utf8').toString('base64'),
      });
    }
    this.req.end();
    return this.status;
  }
}

// ---- the event loop's end: Lambda's callbackWaitsForEmptyEventLoop
const emptyLoop = {
  listener: null,
  set(listener) {
    this.listener = listener;
  },
  reset() {
    this.listener = null;
  },
  run() {
    const listener = this.listener;
    this.listener = null;
    if (listener) listener();
  },
};

// ---- one invocation
function headerOf(headers, name) {
  const value = headers[name.toLowerCase()];
  return value === undefined || value === '' ? undefined : value; // RAPID omits empty headers
}

function parseJsonHeader(value, what) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${what} as json: ${err}`);
  }
}

function serialize(result) {
  try {
    return JSON.stringify(result === undefined ? null : result) ?? '';
  } catch {
    throw new Error('Unable to stringify response body');
  }
}

class Invocation {
  constructor(api, marker, reply, onDone) {
    this.api = api;
    this.marker = marker;
    this.headers = reply.headers;
    this.body = reply.body;
    this.requestId = headerOf(reply.headers, H_REQUEST_ID) ?? '';
    this.deadlineMs = Number(headerOf(reply.headers, H_DEADLINE_MS) ?? 0) || 0;
    this.completed = false;
    this.onDone = onDone;
  }

  /** Report the result (kind 'response') or the error (kind 'error') once: log an error, close the
   * invocation's log with its END marker, then post, then go on to the next event. */
  complete(kind, value) {
    if (this.completed) {
      console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
      return;
    }
    this.completed = true;
    emptyLoop.reset();
    let body;
    if (kind === 'response') {
      try {
        body = Buffer.from(serialize(value), 'utf8');
      } catch (err) {
        kind = 'error';
        value = err;
      }
    }
    if (kind === 'error') console.error('Invoke Error', toFormatted(value));
    outputComplete(this.marker, this.requestId, () => {
      const post =
        kind === 'response' ? this.api.postResponse(this.requestId, body) : this.api.postError(this.requestId, value);
      post.then(() => this.onDone(), (err) => fatal(err.message));
    });
  }

  /** An uncaught exception or unhandled rejection while this invocation runs: report it as its error,
   * then exit as Lambda's runtime does (the environment is reset). */
  crash(error, exitStatus) {
    if (this.completed) process.exit(exitStatus);
    this.completed = true;
    emptyLoop.reset();
    const stream = this.stream;
    outputComplete(this.marker, this.requestId, () => {
      const post = stream && stream.opened ? stream.close(error) : this.api.postError(this.requestId, error);
      post.then(
        () => process.exit(exitStatus),
        () => process.exit(exitStatus),
      );
    });
  }

  run(handler) {
    current.requestId = this.requestId;
    current.invocation = this;
    const traceId = headerOf(this.headers, H_TRACE_ID);
    if (traceId) process.env._X_AMZN_TRACE_ID = traceId;
    else delete process.env._X_AMZN_TRACE_ID;
    if (handler[HANDLER_STREAMING] === STREAM_RESPONSE) {
      this.runStreaming(handler);
      return;
    }

    let waitForEmptyLoop = true;
    const succeed = (result) => this.complete('response', result);
    const fail = (err) => this.complete('error', err === undefined || err === null ? 'handled' : err);
    const done = (err, result) => (err === undefined || err === null ? succeed(result) : fail(err));
    // callback(err, result): with callbackWaitsForEmptyEventLoop (the default) the result is sent once
    // nothing is left to run; without it, at once. context.done/succeed/fail never wait.
    const callback = (err, result) => {
      if (this.completed) return;
      if (waitForEmptyLoop) emptyLoop.set(() => setImmediate(() => done(err, result)));
      else done(err, result);
    };
    const callbackContext = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyLoop;
      },
      set callbackWaitsForEmptyEventLoop(value) {
        waitForEmptyLoop = value;
      },
      succeed: (result) => {
        emptyLoop.reset();
        succeed(result);
      },
      fail: (err) => {
        emptyLoop.reset();
        fail(err);
      },
      done: (err, result) => {
        emptyLoop.reset();
        done(err, result);
      },
    };
    // A handler that neither returns a promise nor calls back: null, once nothing is left to run.
    emptyLoop.set(() => succeed(null));
    try {
      const event = JSON.parse(this.body.toString('utf8'));
      const context = this.context(callbackContext);
      const result = handler(event, context, callback);
      if (result !== null && (typeof result === 'object' || typeof result === 'function') && typeof result.then === 'function') {
        result.then(callbackContext.succeed, callbackContext.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  /** A streamifyResponse handler, called (event, responseStream, context): the invocation ends when the
   * stream does (or the handler's promise settles); an error before the first write is posted to /error,
   * one after it goes in the stream's trailers. */
  runStreaming(handler) {
    const onEnd = (error) => this.endStream(stream, error);
    const stream = new ResponseStream(this.api, this.requestId, onEnd, handler[HANDLER_HIGHWATERMARK]);
    this.stream = stream;
    emptyLoop.set(() => stream.end());
    try {
      const event = JSON.parse(this.body.toString('utf8'));
      const context = this.context({ callbackWaitsForEmptyEventLoop: true });
      const result = handler(event, stream, context);
      if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
        result.then(
          () => {
            if (!stream.writableEnded) stream.end();
          },
          (err) => this.endStream(stream, err === undefined || err === null ? 'handled' : err),
        );
      }
    } catch (err) {
      this.endStream(stream, err);
    }
  }

  endStream(stream, error) {
    if (this.completed) return;
    this.completed = true;
    emptyLoop.reset();
    if (error !== undefined) console.error('Invoke Error', toFormatted(error));
    outputComplete(this.marker, this.requestId, () => {
      const unsent = error !== undefined && !stream.opened; // nothing streamed yet: an ordinary error
      const post = unsent ? this.api.postError(this.requestId, error) : stream.close(error);
      post.then(() => this.onDone(), (err) => fatal(err.message));
    });
  }

  /** The handler's `context`, with the fields of Lambda's Node.js context object. */
  context(callbackContext) {
    const env = process.env;
    const deadlineMs = this.deadlineMs;
    return Object.assign(callbackContext, {
      functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, // a string, as in Lambda
      logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
      clientContext: parseJsonHeader(headerOf(this.headers, H_CLIENT_CONTEXT), 'ClientContext'),
      identity: parseJsonHeader(headerOf(this.headers, H_COGNITO_IDENTITY), 'CognitoIdentity'),
      invokedFunctionArn: headerOf(this.headers, H_FUNCTION_ARN),
      awsRequestId: this.requestId,
      tenantId: headerOf(this.headers, H_TENANT_ID),
      // Not clamped at 0: Node's runtime lets it go negative past the deadline (Lambda's context object).
      getRemainingTimeInMillis: () => deadlineMs - Date.now(),
    });
  }
}

// ---- the process
function fatal(reason) {
  try {
    process.stderr.write(`lambda-emu runtime client: ${reason}\n`);
  } finally {
    process.exit(1);
  }
}

async function serve(api, handler, marker) {
  if (marker) await new Promise((resolve) => marker.ready(resolve));
  for (;;) {
    const reply = await api.nextInvocation();
    await new Promise((resolve) => new Invocation(api, marker, reply, resolve).run(handler));
  }
}

function installCrashHandlers(api, marker) {
  const crash = (label, error, exitStatus) => {
    console.error(label, toFormatted(error));
    const invocation = current.invocation;
    if (invocation) {
      invocation.crash(error, exitStatus);
    } else {
      // During init: report it as the init error (no READY marker was written, nor will be).
      api.postInitError(error).then(
        () => process.exit(exitStatus),
        () => process.exit(exitStatus),
      );
    }
  };
  process.on('uncaughtException', (error) => crash('Uncaught Exception', error, EXIT_UNCAUGHT_EXCEPTION));
  process.on('unhandledRejection', (reason, promise) =>
    crash('Unhandled Promise Rejection', new UnhandledPromiseRejection(reason, promise), EXIT_UNHANDLED_REJECTION),
  );
  process.on('beforeExit', () => emptyLoop.run());
}

async function main() {
  // Removed first, so the function never sees it (and nor do its subprocesses).
  const markers = process.env[ENV_LOG_MARKER] ?? '';
  delete process.env[ENV_LOG_MARKER];
  const address = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!address) fatal('AWS_LAMBDA_RUNTIME_API is not set');
  const api = new RuntimeApiClient(address);
  let token = '';
  if (markers) {
    try {
      token = await api.logToken(); // before any user code: the only call the API answers it
    } catch (err) {
      fatal(err.message);
    }
  }
  installOutput(Boolean(token));
  const marker = token ? new LogMarker(token) : null;
  patchConsole(process.env.AWS_LAMBDA_LOG_LEVEL);
  const taskRoot = process.env.LAMBDA_TASK_ROOT || DEFAULT_TASK_ROOT;
  try {
    process.chdir(taskRoot);
  } catch {
    // loading the handler reports the missing code
  }
  installCrashHandlers(api, marker);

  let handler;
  try {
    handler = await loadHandler(taskRoot, process.env._HANDLER ?? '');
  } catch (error) {
    // As on Lambda: logged as an uncaught exception, posted as the init error, then exit.
    console.error('Uncaught Exception', toFormatted(error));
    try {
      await api.postInitError(error);
    } catch (err) {
      fatal(err.message);
    }
    process.exit(EXIT_UNCAUGHT_EXCEPTION);
  }
  try {
    await serve(api, handler, marker);
  } catch (err) {
    fatal(err instanceof ApiUnreachable ? err.message : `runtime failure: ${err && err.stack}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main();
}
