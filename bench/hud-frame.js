/**
 * Figures: HUD, time to produce one frame with 1,000 agents and 100 workers — the live redraw
 * (what the interactive HUD does at each refresh) and the one-shot frame (`hud --once`).
 *
 * Plain-data sources (20 tenants × 50 agents, 2 models each; 100 workers in 60 pools; 60 runs and
 * 40 tasks in flight; 50 audit events) go through the HUD's own model builder (`assembleModel`,
 * with the previous frame for trends), then Ink at 120×40 with React's production build as the
 * `hud` command selects it (NODE_ENV=production unless set):
 *   - live: `createLiveFrameRenderer` keeps one Ink instance across frames, as the interactive
 *     HUD does, and writes every frame in full; each frame is a new model (new objects, so
 *     nothing is skipped as unchanged), as after a refresh;
 *   - once: `renderFrameToString` builds a new Ink tree per frame, as `hud --once` does.
 * Both must print the same text. A frame's time is assemble + render. Modes alternate per repeat;
 * 5 repeats of 40 frames each after 10 warm-up frames; each repeat's figure is its median frame.
 *
 * The frames are drawn in a child Node started with the flags `sagewai-obs hud` runs with
 * (bin/node-flags.js: a larger V8 young generation), and, for comparison in the same run, in a
 * child with V8's defaults (a figure with no target); the two children alternate, 2 each.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { COMMAND_NODE_FLAGS } from '../bin/node-flags.js';
import { hudWorld } from './hud-world.js';
import { figure, log, main, median, round } from './lib.js';

const TENANTS = 20;
const AGENTS_PER_TENANT = 50;
const WORKERS = 100;
/** Repeats per child; 2 children per configuration. */
const REPEATS = 3;
const FRAMES = 40;

async function measure() {
  // As `sagewai-obs hud` does before it loads the UI (src/commands/hud.ts): React's production build.
  process.env.NODE_ENV ??= 'production';
  const { assembleModel } = await import('../dist/src/hud/assemble.js');
  const { renderFrameToString, createLiveFrameRenderer } = await import('../dist/src/tui/index.js');
  const liveRenderer = createLiveFrameRenderer({ columns: 120, rows: 40 });
  const now = new Date('2026-11-26T10:00:00Z');
  const { tenants, metrics, live } = hudWorld({ tenants: TENANTS, perTenant: AGENTS_PER_TENANT, workers: WORKERS, now });
  const events = Array.from({ length: 50 }, (_, i) => ({ time: new Date(now.getTime() - i * 1000).toISOString(), name: i % 3 ? 'agent.run.completed' : 'fleet.task.claimed', project: tenants[i % TENANTS], actor: `user-${i % 4}`, detail: `detail ${i}` }));
  let previous = null;
  const frame = (mode) => {
    const a0 = performance.now();
    const model = assembleModel({ now, project: null, spendWindow: { from: new Date('2026-11-26T00:00:00Z'), to: now }, metrics: { ok: true, value: metrics }, live: { ok: true, value: live }, logs: { ok: true, value: events }, previous });
    const a1 = performance.now();
    const text = mode === 'live' ? liveRenderer.draw(model) : renderFrameToString(model, { columns: 120, rows: 40 });
    const a2 = performance.now();
    previous = model;
    if (!text.includes('tenant-')) throw new Error(`the ${mode} frame does not show the tenants`);
    return { assemble: a1 - a0, render: a2 - a1, total: a2 - a0, text };
  };
  for (let i = 0; i < 10; i++) for (const mode of ['live', 'once']) frame(mode);
  const same = frame('live').text === frame('once').text;
  if (!same) throw new Error('the live redraw and the one-shot frame differ for the same model');
  const modes = { live: { perRepeat: [], assemble: [], render: [] }, once: { perRepeat: [], assemble: [], render: [] } };
  for (let r = 0; r < REPEATS; r++) {
    for (const mode of r % 2 === 0 ? ['live', 'once'] : ['once', 'live']) {
      const xs = Array.from({ length: FRAMES }, () => frame(mode));
      modes[mode].perRepeat.push(round(median(xs.map((x) => x.total)), 2));
      modes[mode].assemble.push(round(median(xs.map((x) => x.assemble)), 2));
      modes[mode].render.push(round(median(xs.map((x) => x.render)), 2));
    }
  }
  liveRenderer.unmount();
  return { ...modes, rssMB: Math.round(process.memoryUsage().rss / 1e6) };
}

const HUD_FLAGS = COMMAND_NODE_FLAGS.hud;

/** One child process drawing frames: with the HUD's Node flags, or with V8's defaults. */
function child(flags) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...flags, fileURLToPath(import.meta.url)], { env: { ...process.env, BENCH_HUD_FRAME_CHILD: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d.toString()));
    p.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('HUD_FRAMES '));
      if (code === 0 && line) resolve(JSON.parse(line.slice('HUD_FRAMES '.length)));
      else reject(new Error(`the frame child (${flags.join(' ') || 'V8 defaults'}) exited ${code} without its figures`));
    });
  });
}

if (process.env.BENCH_HUD_FRAME_CHILD === '1') {
  process.stdout.write(`HUD_FRAMES ${JSON.stringify(await measure())}\n`);
} else {
  await main('hud-frame', async () => {
    const configs = { hud: { flags: HUD_FLAGS, runs: [] }, v8default: { flags: [], runs: [] } };
    for (const name of ['hud', 'v8default', 'v8default', 'hud']) {
      const modes = await child(configs[name].flags);
      configs[name].runs.push(modes);
      log(`${name === 'hud' ? HUD_FLAGS.join(' ') : 'V8 defaults'}: live ${modes.live.perRepeat.join(', ')} ms, once ${modes.once.perRepeat.join(', ')} ms, RSS at the end ${modes.rssMB} MB`);
    }
    const merged = (name, mode, key) => configs[name].runs.flatMap((m) => m[mode][key]);
    const how = `${TENANTS} tenants × ${AGENTS_PER_TENANT} agents, ${WORKERS} workers, 60 runs + 40 tasks in flight, 50 events; assembleModel + Ink 120×40, NODE_ENV=production as in the hud command; in a child Node with the hud command's flags (${HUD_FLAGS.join(' ')}), 2 children × ${REPEATS} repeats × ${FRAMES} frames per mode after 10 warm-up frames, modes alternating; both modes print the same text; children with V8's defaults alternate with them for comparison`;
    const def = (mode) => round(median(merged('v8default', mode, 'perRepeat')), 2);
    const med = (mode, key) => round(median(merged('hud', mode, key)), 2);
    return [
      figure({
        id: 'hud-frame',
        title: 'HUD frame, 1,000 agents + 100 workers (live redraw)',
        unit: 'ms',
        values: merged('hud', 'live', 'perRepeat'),
        target: { op: '<=', value: 8 },
        measured: `assemble ${med('live', 'assemble')} ms + render ${med('live', 'render')} ms per frame (median of repeats), one Ink instance kept across frames as in the interactive HUD; ${def('live')} ms with V8's default young generation, same run`,
        how,
        extra: { assembleMs: merged('hud', 'live', 'assemble'), renderMs: merged('hud', 'live', 'render'), v8DefaultMs: merged('v8default', 'live', 'perRepeat'), rssMB: configs.hud.runs.map((m) => m.rssMB), v8DefaultRssMB: configs.v8default.runs.map((m) => m.rssMB) },
      }),
      figure({
        id: 'hud-frame-once',
        title: 'HUD frame, same data, one-shot (`hud --once`, new Ink tree)',
        unit: 'ms',
        values: merged('hud', 'once', 'perRepeat'),
        target: { op: '<=', value: 16 },
        measured: `assemble ${med('once', 'assemble')} ms + render ${med('once', 'render')} ms per frame (median of repeats), a new Ink tree per frame; ${def('once')} ms with V8's default young generation, same run`,
        how,
        extra: { assembleMs: merged('hud', 'once', 'assemble'), renderMs: merged('hud', 'once', 'render'), v8DefaultMs: merged('v8default', 'once', 'perRepeat') },
      }),
      figure({
        id: 'hud-frame-v8-default',
        title: 'HUD frame (live redraw) with V8\'s default young generation, for comparison',
        unit: 'ms',
        values: merged('v8default', 'live', 'perRepeat'),
        target: null,
        measured: `the same frames in a child Node without ${HUD_FLAGS.join(' ')}, alternating with the figure above`,
        how,
      }),
    ];
  });
}
