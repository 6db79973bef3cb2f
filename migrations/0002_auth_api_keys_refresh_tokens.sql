-- Better Auth's api-key plugin table (1.7 schema: owner in "referenceId"; "key" holds the
-- unpadded base64url SHA-256 of the secret), and Hearth's rotating refresh tokens for /auth/*.
create table if not exists "apikey" ("id" text not null primary key, "configId" text not null, "name" text, "start" text, "referenceId" text not null, "prefix" text, "key" text not null, "refillInterval" integer, "refillAmount" integer, "lastRefillAt" date, "enabled" integer, "rateLimitEnabled" integer, "rateLimitTimeWindow" integer, "rateLimitMax" integer, "requestCount" integer, "remaining" integer, "lastRequest" date, "expiresAt" date, "createdAt" date not null, "updatedAt" date not null, "permissions" text, "metadata" text);
create index if not exists "apikey_configId_idx" on "apikey" ("configId");
create index if not exists "apikey_referenceId_idx" on "apikey" ("referenceId");
create index if not exists "apikey_key_idx" on "apikey" ("key");
-- One row per refresh token ever issued; a family is one login's chain of rotations.
-- "usedAt" marks a rotated token: presenting it again revokes the whole family.
create table if not exists "refresh_token" ("id" text not null primary key, "family" text not null, "tokenHash" text not null unique, "userId" text not null references "user" ("id") on delete cascade, "expiresAt" date not null, "createdAt" date not null, "usedAt" date, "revokedAt" date);
create index if not exists "refresh_token_family_idx" on "refresh_token" ("family");
create index if not exists "refresh_token_userId_idx" on "refresh_token" ("userId");
