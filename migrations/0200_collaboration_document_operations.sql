-- The collaboration worker's log of applied operations, one row per version of a room's
-- document (the room's Durable Object storage holds the document itself). "user_id" is NULL
-- once the user is removed; "operation_data" is the operation's JSON as broadcast.
create table if not exists "document_operations" ("id" integer primary key autoincrement, "room" text not null, "version" integer not null, "session_id" text not null, "user_id" text references "user" ("id") on delete set null, "operation_type" text not null check ("operation_type" in ('insert', 'delete')), "operation_data" text not null, "created_at" integer not null);
create index if not exists "document_operations_room_version_idx" on "document_operations" ("room", "version");
create index if not exists "document_operations_user_id_idx" on "document_operations" ("user_id");
