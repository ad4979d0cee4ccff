//! Full-text entries of root rows (contacts, cases): each index's entries are selected from the
//! tables by one statement, so writing one row's entry and rebuilding them all cannot disagree.

use crate::error::Result;
use rusqlite::Connection;

/// FTS5's own default hash size, and the one a bulk rebuild uses (see [`SearchEntries::rebuild`]).
const DEFAULT_HASH_SIZE: i64 = 1024 * 1024;
const BULK_HASH_SIZE: i64 = 64 * 1024 * 1024;

/// A full-text table and the statement that fills it.
pub struct SearchEntries {
    table: String,
    delete_one: String,
    delete_all: String,
    insert_one: String,
    insert_all: String,
}

impl SearchEntries {
    /// `insert`: `INSERT INTO <table>(rowid, …) SELECT c.rid, … FROM <root table> c`.
    pub fn new(table: &str, insert: String) -> SearchEntries {
        SearchEntries {
            table: table.to_owned(),
            delete_one: format!("DELETE FROM {table} WHERE rowid = ?1"),
            delete_all: format!("DELETE FROM {table}"),
            insert_one: format!("{insert} WHERE c.rid = ?1"),
            insert_all: insert,
        }
    }

    /// Write the entry of the root row `rid` again.
    pub fn write(&self, conn: &Connection, rid: i64) -> Result<()> {
        conn.prepare_cached(&self.delete_one)?.execute([rid])?;
        conn.prepare_cached(&self.insert_one)?.execute([rid])?;
        Ok(())
    }

    /// Rebuild every entry (after a bulk load that deferred them). FTS5 gathers the words of
    /// the rows it is given in memory and writes them out as a segment whenever that reaches its
    /// hash size (1 MB by default), merging segments as they pile up: for one statement that
    /// indexes a whole store, that merging was most of the work. A larger hash for this one
    /// statement writes few, large segments instead; the default is put back after it.
    pub fn rebuild(&self, conn: &Connection) -> Result<()> {
        let hash_size = |bytes: i64| -> Result<()> {
            let sql = format!("INSERT INTO {table}({table}, rank) VALUES ('hashsize', ?1)", table = self.table);
            conn.execute(&sql, [bytes])?;
            Ok(())
        };
        conn.execute(&self.delete_all, [])?;
        hash_size(BULK_HASH_SIZE)?;
        let filled = conn.execute(&self.insert_all, []);
        hash_size(DEFAULT_HASH_SIZE)?;
        filled?;
        Ok(())
    }
}

/// SQL for the words of a column holding a JSON list of strings (tags), joined by spaces, for a
/// full-text entry: empty when the column is not such a list.
pub fn json_words(column: &str) -> String {
    format!(
        "CASE WHEN json_valid({column}) AND json_type({column}) = 'array'
                   AND NOT EXISTS (SELECT 1 FROM json_each({column}) WHERE type <> 'text')
              THEN coalesce((SELECT group_concat(value, ' ') FROM json_each({column})), '') ELSE '' END"
    )
}
