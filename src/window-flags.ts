import { Flags } from '@oclif/core';

/** The time-window flags of every report that reads counters over a range (see resolveWindow). */
export const windowFlags = {
  since: Flags.string({ description: 'Window ending at --to (or now): 30m, 24h, 7d [default: 24h]. A day or more starts on the whole UTC hour at or before that (read from the hourly totals, no partial hour at the start)', env: 'SAGEWAI_OBS_SINCE' }),
  from: Flags.string({ description: 'Window start (ISO time or unix seconds)', env: 'SAGEWAI_OBS_FROM' }),
  to: Flags.string({ description: 'Window end (ISO time or unix seconds) [default: now]', env: 'SAGEWAI_OBS_TO' }),
};
