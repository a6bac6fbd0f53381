// Hostile Node.js handlers for tests/docker/test_hostile_functions.py: the event's "case" picks what the
// function does to its environment; "ok" is the healthy invoke that follows each case.
const fs = require('node:fs');
const { spawn } = require('node:child_process');

const forever = () => new Promise(() => setInterval(() => {}, 1000));

const cases = {
  ok: async () => ({ ok: true, pid: process.pid }),
  infinite_loop: async () => {
    for (;;) {}
  },
  memory_bomb: async () => {
    const hog = [];
    for (;;) hog.push(Buffer.alloc(8 * 2 ** 20, 1)); // outside the JS heap: the cgroup's limit
  },
  fork_bomb: async () => {
    spawn('/bin/sh', ['-c', 'b() { b | b & }; b'], { stdio: 'ignore' });
    return forever();
  },
  fill_tmp: async () => {
    const chunk = Buffer.alloc(2 ** 20, 120);
    const fd = fs.openSync('/tmp/fill', 'w');
    for (;;) fs.writeSync(fd, chunk);
  },
  output_100mb: async () => {
    const line = 'y'.repeat(2 ** 17 - 1) + '\n';
    for (let n = 0; n < 800; n += 1) process.stdout.write(line);
    console.log('last line of the flood');
    return { ok: true };
  },
  print_few_mb: async () => {
    const line = 'p'.repeat(999);
    for (let n = 0; n < 5000; n += 1) console.log(line);
    return { ok: true };
  },
  close_output: async () => {
    fs.closeSync(1);
    fs.closeSync(2);
    return { closed: true };
  },
  kill_self: async () => {
    process.kill(process.pid, 'SIGKILL');
    return forever();
  },
  exit_runtime: async () => process.exit(3),
  ignore_sigterm: async () => {
    process.on('SIGTERM', () => {});
    for (;;) {}
  },
  huge_result: async () => 'z'.repeat(7 * 2 ** 20),
  not_json: async () => ({ value: 10n }),
  thread_after_response: async () => {
    let n = 0;
    const timer = setInterval(() => {
      console.log(`background line ${n}`);
      n += 1;
      if (n >= 20) clearInterval(timer);
    }, 50);
    timer.unref();
    return { ok: true };
  },
  sleep_long: () => forever(),
};

exports.handler = async (event) => cases[event.case](event);
