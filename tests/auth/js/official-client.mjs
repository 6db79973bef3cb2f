// Drives Hearth's auth worker with the official better-auth client, unchanged
// (tests/auth/test_official_client.py). Usage: node official-client.mjs <baseURL> <adminEmail> <adminPassword>
// Node's fetch keeps no cookies, so a tiny jar plays the browser's part: it stores Set-Cookie
// and sends Cookie and Origin (as a browser does on same-origin requests).
import { createAuthClient } from "better-auth/client";
import { adminClient } from "better-auth/client/plugins";

const [baseURL, adminEmail, adminPassword] = process.argv.slice(2);
const jar = new Map();

async function browserFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  if (jar.size) headers.set("cookie", [...jar].map(([k, v]) => `${k}=${v}`).join("; "));
  headers.set("origin", new URL(baseURL).origin);
  const response = await fetch(input, { ...init, headers });
  for (const line of response.headers.getSetCookie()) {
    const [pair, ...attributes] = line.split(";");
    const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
    const expired = attributes.some((a) => a.trim().toLowerCase() === "max-age=0");
    if (expired) jar.delete(name);
    else jar.set(name, value);
  }
  return response;
}

const client = createAuthClient({
  baseURL,
  fetchOptions: { customFetchImpl: browserFetch },
  plugins: [adminClient()],
});

const out = {};
const signUp = await client.signUp.email({ email: "new@example.com", password: "password123", name: "New" });
out.signUp = { data: signUp.data, error: signUp.error };

const signIn = await client.signIn.email({ email: adminEmail, password: adminPassword });
out.signIn = { error: signIn.error, token: signIn.data?.token, email: signIn.data?.user?.email };
out.cookies = [...jar.keys()];

const session = await client.getSession();
out.session = {
  error: session.error,
  token: session.data?.session?.token,
  role: session.data?.user?.role,
  email: session.data?.user?.email,
  createdAtIsDate: session.data?.session?.createdAt instanceof Date,
  expiresAtIsDate: session.data?.session?.expiresAt instanceof Date,
};

const sessions = await client.listSessions();
out.listSessions = { error: sessions.error, tokens: (sessions.data ?? []).map((s) => s.token) };

const created = await client.admin.createUser({
  email: "Created.User@Example.com", password: "password123", name: "Created User", role: "user",
});
out.createUser = { error: created.error, email: created.data?.user?.email, role: created.data?.user?.role };

const duplicate = await client.admin.createUser({ email: "created.user@example.com", password: "password123", name: "Again" });
out.duplicate = { status: duplicate.error?.status, code: duplicate.error?.code };

const listed = await client.admin.listUsers({ query: { limit: 10, sortBy: "email" } });
out.listUsers = { error: listed.error, total: listed.data?.total, emails: (listed.data?.users ?? []).map((u) => u.email) };

const signOut = await client.signOut();
out.signOut = { data: signOut.data, error: signOut.error, cookiesLeft: [...jar.keys()] };

const after = await client.getSession();
out.afterSignOut = { data: after.data, error: after.error };

process.stdout.write(JSON.stringify(out));
