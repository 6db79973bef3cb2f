-- Full-text search over product names and descriptions (SQLite FTS5, ranked with bm25), kept
-- in step with the products table by triggers. External content: the text lives once, in
-- products; the index holds only tokens. Porter stemming: "shoes" finds "shoe".
CREATE VIRTUAL TABLE IF NOT EXISTS products_fts USING fts5(
    name, description, content = 'products', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER IF NOT EXISTS products_fts_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (rowid, name, description) VALUES (new.id, new.name, new.description);
END;

CREATE TRIGGER IF NOT EXISTS products_fts_delete AFTER DELETE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, description)
        VALUES ('delete', old.id, old.name, old.description);
END;

-- Only a change of the indexed text touches the index (an order's inventory update does not).
CREATE TRIGGER IF NOT EXISTS products_fts_update AFTER UPDATE OF name, description ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, description)
        VALUES ('delete', old.id, old.name, old.description);
    INSERT INTO products_fts (rowid, name, description) VALUES (new.id, new.name, new.description);
END;
