//! Full-text entries of root rows (contacts, cases): each index's entries are selected from the
//! tables by one statement, so writing one row's entry and rebuilding them all cannot disagree.

use crate::error::Result;
use rusqlite::Connection;

/// A full-text table and the statement that fills it.
pub struct SearchEntries {
    delete_one: String,
    delete_all: String,
    insert_one: String,
    insert_all: String,
}

impl SearchEntries {
    /// `insert`: `INSERT INTO <table>(rowid, …) SELECT c.rid, … FROM <root table> c`.
    pub fn new(table: &str, insert: String) -> SearchEntries {
        SearchEntries {
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

    /// Rebuild every entry (after a bulk load that deferred them).
    pub fn rebuild(&self, conn: &Connection) -> Result<()> {
        conn.execute(&self.delete_all, [])?;
        conn.execute(&self.insert_all, [])?;
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
