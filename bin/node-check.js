// The Node.js version check of bin/run.js. Plain JavaScript with no imports and no syntax newer
// than Node 14 (ES modules, const/let), so that an old Node reaches this check and prints one line instead of failing
// deep inside a dependency with a stack trace.

/** "20.19.0" → [20, 19, 0]; undefined when it is not a version. */
function parse(version) {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(String(version).trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/**
 * The one-line complaint when `current` is older than the `engines.node` range allows, else
 * undefined. Only the ">=X.Y.Z" form (what package.json uses) is checked; any other range passes.
 */
export function nodeTooOld(current, range) {
  const m = /^\s*>=\s*(\S+)\s*$/.exec(String(range || ''));
  const want = m ? parse(m[1]) : undefined;
  const have = parse(current);
  if (!want || !have) return undefined;
  for (let i = 0; i < 3; i++) {
    if (have[i] > want[i]) return undefined;
    if (have[i] < want[i]) {
      return 'sagewai-obs needs Node.js ' + want.join('.') + ' or newer (engines: "' + range.trim() + '"); this is Node.js ' + have.join('.') + '. Install a newer Node.js (e.g. `nvm install 22`) and run it again.';
    }
  }
  return undefined;
}
