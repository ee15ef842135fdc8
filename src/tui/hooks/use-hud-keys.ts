import { useInput } from 'ink';

export interface HudKeyHandlers {
  next(): void;
  previous(): void;
  pickTenant(): void;
  toggleHelp(): void;
  closeHelp(): void;
  quit(): void;
}

/** The HUD's keys: tab/arrows move focus, p cycles the tenant filter, ? toggles help, q / ctrl-c quit, esc closes help. */
export function useHudKeys(h: HudKeyHandlers, isActive = true): void {
  useInput(
    (input, key) => {
      if (input === 'q' || (key.ctrl && input === 'c')) h.quit();
      else if (key.tab && key.shift) h.previous();
      else if (key.tab || key.rightArrow || key.downArrow) h.next();
      else if (key.leftArrow || key.upArrow) h.previous();
      else if (input === 'p' || input === 'P') h.pickTenant();
      else if (input === '?' || input === 'h') h.toggleHelp();
      else if (key.escape) h.closeHelp();
    },
    { isActive },
  );
}
