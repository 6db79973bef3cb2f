-- The shop's catalogue (api worker, seed 000): categories, products, their images and reviews.
-- Money is integer cents; timestamps are ISO-8601 UTC text with milliseconds (JS toISOString).
CREATE TABLE IF NOT EXISTS categories (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    ai_description TEXT,
    price INTEGER NOT NULL CHECK (price >= 0),
    category_id INTEGER REFERENCES categories (id) ON DELETE SET NULL,
    inventory_count INTEGER NOT NULL DEFAULT 0 CHECK (inventory_count >= 0),
    sku TEXT UNIQUE,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
-- The list pages: newest first, all or by category.
CREATE INDEX IF NOT EXISTS products_active_created ON products (active, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS products_category_created ON products (category_id, active, created_at DESC, id DESC);

CREATE TABLE IF NOT EXISTS product_images (
    id INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    filename TEXT NOT NULL UNIQUE,  -- the R2 key: products/{id}/...
    alt_text TEXT NOT NULL DEFAULT '',
    sort_order INTEGER NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS product_images_product ON product_images (product_id, sort_order);

-- One review per user per product; reviewers are the auth worker's users.
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL DEFAULT '',
    verified_purchase INTEGER NOT NULL DEFAULT 0 CHECK (verified_purchase IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (product_id, user_id)
);
CREATE INDEX IF NOT EXISTS reviews_product_created ON reviews (product_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS reviews_user ON reviews (user_id);
