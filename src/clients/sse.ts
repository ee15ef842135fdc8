/**
 * A streaming parser for text/event-stream (the /playground/run answer), per the WHATWG
 * server-sent events rules: fields `event`, `data` (joined with "\n"), `id`; blank line dispatches;
 * lines starting with ":" are comments; CR, LF and CRLF all end a line.
 */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export class SseParser {
  private buffer = '';
  private eventName = '';
  private dataLines: string[] = [];
  private lastId: string | undefined;
  private sawField = false;

  /** Feed a chunk; returns the events completed by it. */
  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const events: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      // A lone CR at the very end may be the first half of CRLF: wait for more.
      if (m[0] === '\r' && m.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) events.push(ev);
    }
    return events;
  }

  /**
   * End of stream. A CR held back as a possible first half of CRLF does end its line now (so a
   * stream ending in "\r\r" dispatches its last event); an unterminated last event is dropped,
   * as the spec says.
   */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    if (this.buffer.endsWith('\r')) {
      const ev = this.line(this.buffer.slice(0, -1));
      if (ev) events.push(ev);
    }
    this.buffer = '';
    this.reset();
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      if (!this.sawField) return undefined;
      const ev: SseEvent = { event: this.eventName || 'message', data: this.dataLines.join('\n') };
      if (this.lastId !== undefined) ev.id = this.lastId;
      this.reset();
      return ev;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventName = value;
        this.sawField = true;
        break;
      case 'data':
        this.dataLines.push(value);
        this.sawField = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      default:
        break;
    }
    return undefined;
  }

  private reset(): void {
    this.eventName = '';
    this.dataLines = [];
    this.sawField = false;
  }
}

/** Parse a whole event-stream text at once. */
export function parseSse(text: string): SseEvent[] {
  const p = new SseParser();
  return [...p.push(text), ...p.end()];
}

/** The data of an event as JSON, or undefined when it is not JSON. */
export function eventJson(ev: SseEvent): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(ev.data);
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
