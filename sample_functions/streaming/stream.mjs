// Response streaming with awslambda.streamifyResponse, as on Lambda's Node.js runtimes (the global
// `awslambda` is the runtime's). The tests open a gate only once they have the first chunk, so the rest
// can only come after it: the chunks are sent as the handler writes them, not at its end.
import http from 'node:http';

/** GET `url` and wait for its answer (the test's gate). */
function waitFor(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject);
  });
}

/** event: {chunks: [text...], gate?: url waited for after the first chunk, fail?: text thrown at the end}. */
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType('text/plain');
  const chunks = event.chunks ?? ['hello ', 'world'];
  for (const [index, chunk] of chunks.entries()) {
    responseStream.write(chunk);
    console.log(`wrote chunk ${index}`);
    if (index === 0 && event.gate) await waitFor(event.gate);
  }
  if (event.fail) throw new Error(event.fail);
  responseStream.end();
});

/** A Function URL's answer: status, headers and cookies first (HttpResponseStream.from), then the body. */
export const page = awslambda.streamifyResponse(async (event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'Content-Type': 'text/html', 'X-Streamed': 'yes' },
    cookies: ['session=abc; Secure', 'theme=dark'],
  });
  stream.write('<p>first</p>');
  const gate = event.queryStringParameters && event.queryStringParameters.gate;
  if (gate) await waitFor(gate);
  stream.write('<p>second</p>');
  stream.end();
});
