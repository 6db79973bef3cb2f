-- Orders (api worker, seed 000). An order is written in one D1 batch with its items and the
-- inventory they take (workers/api/orders.py); prices are integer cents, copied at order time.
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    -- NULL once the auth worker removes the user: the order stays in the books.
    user_id TEXT REFERENCES "user" ("id") ON DELETE SET NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled')),
    total INTEGER NOT NULL CHECK (total >= 0),
    item_count INTEGER NOT NULL CHECK (item_count > 0),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS orders_user_created ON orders (user_id, created_at DESC);

CREATE TABLE IF NOT EXISTS order_items (
    id INTEGER PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id INTEGER REFERENCES products (id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    price INTEGER NOT NULL CHECK (price >= 0),
    -- The order batch writes 0 here when the conditional inventory decrement just before it
    -- changed no row (sold out, inactive or repriced): this check then aborts the whole batch.
    quantity INTEGER NOT NULL CONSTRAINT stock_reserved CHECK (quantity > 0),
    UNIQUE (order_id, product_id)
);
-- "Bought together": the orders holding a product, then the other items of those orders.
CREATE INDEX IF NOT EXISTS order_items_product_order ON order_items (product_id, order_id);
