import type { z } from 'zod';
import { operations } from '../../contract/operations.js';
import type * as res from '../../contract/responses.js';
import { audit } from '../audit.js';
import { HttpError, notFound, validate } from '../http.js';
import { actor, bind, headerValue, type Ctx, type RouteBinding } from '../routing.js';
import { newId, newSecret, sha256, type Awaitable, type Prepare } from '../store.js';

/** Projects (tenants), their scoped tokens, and the tenancy rules every area applies. */
export interface ProjectRow {
  slug: string;
  name: string;
  environment: string;
  status: string;
  created_at: number;
}

export interface ProjectStore {
  list(only?: string): Awaitable<ProjectRow[]>;
  get(slug: string): Awaitable<ProjectRow | undefined>;
  /** false when the slug exists (a unique key, not a read-then-write). */
  insert(p: { slug: string; name: string; environment: string }, now: number): Awaitable<boolean>;
  insertToken(t: { id: string; tokenHash: string; project: string; name: string | null }, now: number): Awaitable<void>;
}

export class SqliteProjectStore implements ProjectStore {
  constructor(private readonly sql: Prepare) {}
  list(only?: string): ProjectRow[] {
    return only ? this.sql<[string], ProjectRow>('SELECT * FROM projects WHERE slug = ?').all(only) : this.sql<[], ProjectRow>('SELECT * FROM projects ORDER BY created_at, slug').all();
  }
  get(slug: string): ProjectRow | undefined {
    return this.sql<[string], ProjectRow>('SELECT * FROM projects WHERE slug = ?').get(slug);
  }
  insert(p: { slug: string; name: string; environment: string }, now: number): boolean {
    return this.sql('INSERT OR IGNORE INTO projects (slug, name, environment, status, created_at) VALUES (?, ?, ?, ?, ?)').run(p.slug, p.name, p.environment, 'active', now).changes > 0;
  }
  insertToken(t: { id: string; tokenHash: string; project: string; name: string | null }, now: number): void {
    this.sql('INSERT INTO tokens (id, token_hash, kind, project, name, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(t.id, t.tokenHash, 'project', t.project, t.name, now);
  }
}

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function projectJson(p: ProjectRow): z.infer<typeof res.project> {
  return { slug: p.slug, name: p.name, environment: p.environment, status: p.status, created_at: new Date(p.created_at).toISOString() };
}

/** Which project a request is about, and whether its principal may see it (else 404, never 403: no existence leak). */
export class Tenancy {
  constructor(private readonly projects: ProjectStore) {}

  /** The project named by X-Project-ID (required). */
  async required(ctx: Ctx): Promise<string> {
    const slug = headerValue(ctx.req, 'x-project-id');
    if (!slug) throw new HttpError(400, 'project_required', 'this route needs the X-Project-ID header');
    return this.visible(ctx, slug);
  }

  /** Optional project filter: header or ?project=, forced to a project token's own project. */
  async optional(ctx: Ctx): Promise<string | undefined> {
    const raw = ctx.req.headers['x-project-id'];
    // Present but empty is a client's mistake, not "no filter": the answer would silently cover every project.
    if (raw !== undefined && (Array.isArray(raw) ? raw : [raw]).every((v) => v.trim() === '')) throw new HttpError(400, 'invalid_header', 'the X-Project-ID header is empty; name a project or leave the header out');
    const slug = headerValue(ctx.req, 'x-project-id') ?? ctx.url.searchParams.get('project') ?? undefined;
    if (slug) return this.visible(ctx, slug);
    if (ctx.principal?.kind === 'project' && ctx.principal.project) return this.visible(ctx, ctx.principal.project);
    return undefined;
  }

  async visible(ctx: Ctx, slug: string): Promise<string> {
    const p = ctx.principal;
    if (p?.kind === 'project' && p.project !== slug) throw notFound(`project ${slug}`);
    if (!(await this.projects.get(slug))) throw notFound(`project ${slug}`);
    ctx.project = slug;
    return slug;
  }

  requireUnscoped(ctx: Ctx): void {
    if (ctx.principal?.kind === 'project') throw new HttpError(403, 'forbidden', 'a project-scoped token cannot do this');
  }
}

export class Projects {
  constructor(readonly store: ProjectStore) {}

  async create(p: { slug: string; name: string; environment: string }, by: string): Promise<ProjectRow> {
    if (!(await this.store.insert(p, Date.now()))) throw new HttpError(409, 'project_exists', `project ${p.slug} already exists`);
    audit('project.created', p.slug, by);
    return (await this.store.get(p.slug)) as ProjectRow;
  }

  async createToken(project: string, name: string | undefined): Promise<{ token: string; token_id: string; project: string }> {
    const token = `sgp_${newSecret()}`;
    const id = newId('tok');
    await this.store.insertToken({ id, tokenHash: sha256(token), project, name: name ?? null }, Date.now());
    return { token, token_id: id, project };
  }
}

export function projectRoutes(projects: Projects, tenancy: Tenancy): RouteBinding[] {
  const ops = operations;
  return [
    bind(ops.listProjects, async (ctx) => {
      const p = ctx.principal;
      const rows = await projects.store.list(p?.kind === 'project' ? (p.project ?? '') : undefined);
      return { status: 200, body: { items: rows.map(projectJson) } };
    }),
    bind(ops.createProject, async (ctx) => {
      tenancy.requireUnscoped(ctx);
      const input = validate(ops.createProject.body, await ctx.body());
      ctx.project = input.slug;
      return { status: 201, body: projectJson(await projects.create(input, actor(ctx))) };
    }),
    bind(ops.getProject, async (ctx) => {
      const slug = await tenancy.visible(ctx, ctx.params.slug as string);
      return { status: 200, body: projectJson((await projects.store.get(slug)) as ProjectRow) };
    }),
    bind(ops.createProjectToken, async (ctx) => {
      tenancy.requireUnscoped(ctx);
      const slug = await tenancy.visible(ctx, ctx.params.slug as string);
      const input = validate(ops.createProjectToken.body, await ctx.body());
      return { status: 201, body: await projects.createToken(slug, input.name) };
    }),
  ];
}
