-- The profiles worker (seed 002): teams and their members, browser profiles with their
-- fingerprints and locks, proxies, the audit log, billing state and Stripe's events.
-- Plain `create table` (no "if not exists"): a name taken by another app fails loudly here.
-- Times are epoch milliseconds (INTEGER), as the seed's Date.now().

create table teams (
  id text not null primary key,
  name text not null,
  -- set for the team made for a user on first use (their default team); one per user
  personal_owner text unique references "user" ("id") on delete set null,
  created_by text,
  created_at integer not null
);

create table team_members (
  team_id text not null references teams (id) on delete cascade,
  user_id text not null references "user" ("id") on delete cascade,
  role text not null check (role in ('owner', 'admin', 'member')),
  created_at integer not null,
  primary key (team_id, user_id)
);
create index team_members_user_idx on team_members (user_id);

create table team_invites (
  id text not null primary key,
  team_id text not null references teams (id) on delete cascade,
  email text not null,  -- lowercased
  role text not null check (role in ('admin', 'member')),
  invited_by text,
  created_at integer not null,
  expires_at integer not null,
  unique (team_id, email)
);
create index team_invites_email_idx on team_invites (email);

create table proxies (
  id text not null primary key,
  team_id text not null references teams (id) on delete cascade,
  name text not null,
  type text not null check (type in ('http', 'https', 'socks4', 'socks5')),
  host text not null,
  port integer not null check (port between 1 and 65535),
  username text,
  password text,
  created_at integer not null,
  updated_at integer not null
);
create index proxies_team_idx on proxies (team_id, created_at);

create table profiles (
  id text not null primary key,
  name text not null,
  group_id text,
  tags text not null default '[]',  -- JSON array of strings
  team_id text not null references teams (id) on delete cascade,
  owner_id text,
  template_id text not null,
  user_agent text not null,
  platform text not null,
  vendor text not null,
  screen_width integer not null,
  screen_height integer not null,
  color_depth integer not null,
  device_memory integer,
  hardware_concurrency integer not null,
  webgl_vendor text not null,
  webgl_renderer text not null,
  fonts text not null default '[]',  -- JSON array of strings
  timezone text not null,
  language text not null,
  proxy_id text references proxies (id) on delete set null,
  proxy text not null default '',
  locked_by text,
  locked_at integer,
  session_hash text,  -- MD5 of the canonical JSON of the last synced session data
  synced_at integer,
  created_at integer not null,
  last_active integer not null,
  launch_count integer not null default 0,
  notes text not null default ''
);
create index profiles_team_last_active_idx on profiles (team_id, last_active);
create index profiles_team_name_idx on profiles (team_id, name);
create index profiles_team_created_idx on profiles (team_id, created_at);
create index profiles_team_group_idx on profiles (team_id, group_id);
create index profiles_proxy_idx on profiles (proxy_id);
create index profiles_locked_idx on profiles (locked_at) where locked_by is not null;

create table audit_log (
  id integer primary key autoincrement,
  team_id text not null references teams (id) on delete cascade,
  user_id text,  -- null for the system (the cron, Stripe)
  action text not null,
  target_type text not null,
  target_id text,
  target_name text,
  details text,  -- JSON object
  created_at integer not null
);
create index audit_log_team_idx on audit_log (team_id, id);

create table team_billing (
  team_id text not null primary key references teams (id) on delete cascade,
  plan text not null default 'free',
  status text not null default 'active',
  stripe_customer_id text unique,
  stripe_subscription_id text,
  current_period_end integer,
  cancel_at_period_end integer not null default 0,
  event_created integer not null default 0,  -- `created` of the last Stripe event applied
  updated_at integer not null
);

create table stripe_events (
  id text not null primary key,
  type text not null,
  created integer not null,
  payload text not null,
  received_at integer not null,
  processed_at integer,
  outcome text
);
