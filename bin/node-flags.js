// Node.js flags a command runs with. bin/run.js starts the CLI in a child Node with them when the
// command needs some and the current process was not started with them (a flag like the V8 heap
// layout can only be chosen when a process starts). Plain JavaScript, no dependencies.
import { spawn } from 'node:child_process';

/**
 * The interactive HUD redraws a whole frame at every refresh and every key; Ink builds each frame
 * cell by cell, so a frame allocates a few MB of short-lived objects. V8's default young
 * generation, which starts small and grows, is collected several times per frame; semi-spaces of
 * 32 MB from the start (about +40 MB RSS) make most frames collection-free (docs/bench.md, "HUD
 * frame").
 */
export const COMMAND_NODE_FLAGS = {
  hud: ['--max-semi-space-size=32', '--min-semi-space-size=32'],
};

const flagName = (f) => f.split('=')[0].replace(/_/g, '-');

/**
 * The flags the command in `argv` (the CLI arguments, without node and the script) still needs:
 * none when it needs none, or when any of them was given (command line or NODE_OPTIONS, in any
 * spelling): then the user has chosen that part of the runtime.
 */
export function missingNodeFlags(argv, execArgv, nodeOptions) {
  const command = argv.find((a) => !a.startsWith('-'));
  const wanted = (command !== undefined && Object.prototype.hasOwnProperty.call(COMMAND_NODE_FLAGS, command) && COMMAND_NODE_FLAGS[command]) || [];
  const given = new Set([...execArgv, ...String(nodeOptions || '').split(/\s+/)].map(flagName));
  return wanted.some((f) => given.has(flagName(f))) ? [] : wanted;
}

/**
 * Runs `script` with `args` in a child Node that has `flags` ahead of the current execArgv, on the
 * same terminal (stdio inherited), and ends this process as the child ends: its exit code, or the
 * signal that ended it. SIGTERM and SIGHUP sent to this process are passed on; SIGINT from the
 * terminal reaches the child by itself (same process group), so this process only outlives it.
 */
export function relaunchWithFlags(flags, script, args) {
  const child = spawn(process.execPath, [...flags, ...process.execArgv, script, ...args], { stdio: 'inherit' });
  const forward = (sig) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  const handlers = { SIGTERM: forward('SIGTERM'), SIGHUP: forward('SIGHUP'), SIGINT: () => undefined, SIGQUIT: () => undefined };
  for (const [sig, fn] of Object.entries(handlers)) process.on(sig, fn);
  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`could not start ${process.execPath}: ${err.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      for (const [sig, fn] of Object.entries(handlers)) process.off(sig, fn);
      if (signal) {
        process.kill(process.pid, signal);
        return;
      }
      resolve(code === null ? 1 : code);
    });
  });
}
