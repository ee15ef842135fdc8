import { apiStatus, type ExampleContext } from './context.js';

/** The demo organisation every example signs in to (loopback-only demo data). */
export const DEMO_ORG = {
  org_name: 'Sagewai Demo HQ',
  org_slug: 'sagewai-demo-hq',
  admin_email: 'admin@demo.sagewai.invalid',
  admin_name: 'Demo Admin',
  admin_password: 'observatory-demo-43',
};

/**
 * Set the backend up when it asks for it, then log in as the demo admin. When the backend was
 * set up by someone else (the login is refused) the operator token keeps the example going.
 * Returns how the example is authenticated.
 */
export async function signIn(ctx: ExampleContext): Promise<'setup+login' | 'login' | 'operator-token'> {
  const status = await ctx.api.setupStatus();
  let didSetup = false;
  if (status.setup_required) {
    try {
      await ctx.api.setup(DEMO_ORG);
      didSetup = true;
    } catch (err) {
      if (apiStatus(err) !== 409) throw err; // a parallel run finished setup first
    }
  }
  try {
    await ctx.api.login(DEMO_ORG.admin_email, DEMO_ORG.admin_password);
    return didSetup ? 'setup+login' : 'login';
  } catch (err) {
    const s = apiStatus(err);
    if ((s === 401 || s === 429) && ctx.options.token) {
      ctx.api.setToken(ctx.options.token);
      ctx.log('the demo admin cannot log in on this backend; using the operator token');
      return 'operator-token';
    }
    throw err;
  }
}
