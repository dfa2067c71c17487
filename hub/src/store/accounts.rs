//! Accounts, logins and projector links in the store: the SQL behind `auth`.

use firmware::protocol::RoomCode;
use sqlx::Row;

use super::{Store, StoreError, corrupt};
use crate::auth::{LoginToken, Role, User, Username};

impl Store {
    /// Adds an account with an already hashed password; returns its id.
    pub async fn add_user(
        &self,
        name: &Username,
        role: Role,
        password_hash: &str,
        at_ms: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO users (username, role, password_hash, created_ms) VALUES (?, ?, ?, ?) \
             ON CONFLICT (username) DO NOTHING RETURNING id",
        )
        .bind(name.as_str())
        .bind(role.as_str())
        .bind(password_hash)
        .bind(at_ms)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.get("id")).ok_or_else(|| StoreError::UserExists(name.to_string()))
    }

    /// How many accounts exist.
    pub async fn count_users(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(&self.pool).await?.get("n"))
    }

    /// Every account, by name.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query("SELECT id, username, role FROM users ORDER BY username").fetch_all(&self.pool).await?;
        rows.iter().map(user_from_row).collect()
    }

    /// An account and its password hash, by name.
    pub async fn user_by_name(&self, name: &Username) -> Result<Option<(User, String)>, StoreError> {
        let row = sqlx::query("SELECT id, username, role, password_hash FROM users WHERE username = ?")
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((user_from_row(&r)?, r.get("password_hash")))).transpose()
    }

    /// Records a login until `expires_ms`.
    pub async fn add_login(
        &self,
        token: &LoginToken,
        user: i64,
        at_ms: i64,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO logins (token_digest, user_id, created_ms, expires_ms) VALUES (?, ?, ?, ?)")
            .bind(token.digest())
            .bind(user)
            .bind(at_ms)
            .bind(expires_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The account a login token belongs to, if the login has not expired at `now_ms`.
    pub async fn login(&self, token: &LoginToken, now_ms: i64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.username, u.role FROM logins l JOIN users u ON u.id = l.user_id \
             WHERE l.token_digest = ? AND l.expires_ms > ?",
        )
        .bind(token.digest())
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Ends a login (logout), and forgets every expired one.
    pub async fn end_login(&self, token: &LoginToken, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM logins WHERE token_digest = ? OR expires_ms <= ?")
            .bind(token.digest())
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The room's projector token, made on first use.
    pub async fn projector_token(
        &self,
        room: &RoomCode,
        fresh: impl FnOnce() -> String,
        at_ms: i64,
    ) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO projector_links (room, token, created_ms) VALUES (?, ?, ?) ON CONFLICT (room) DO NOTHING",
        )
        .bind(room.as_str())
        .bind(fresh())
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        Ok(sqlx::query("SELECT token FROM projector_links WHERE room = ?")
            .bind(room.as_str())
            .fetch_one(&self.pool)
            .await?
            .get("token"))
    }

    /// Replaces the room's projector token (the old link stops working).
    pub async fn rotate_projector_token(&self, room: &RoomCode, token: &str, at_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO projector_links (room, token, created_ms) VALUES (?, ?, ?) \
             ON CONFLICT (room) DO UPDATE SET token = excluded.token, created_ms = excluded.created_ms",
        )
        .bind(room.as_str())
        .bind(token)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The room a projector token opens.
    pub async fn projector_room(&self, token: &str) -> Result<Option<RoomCode>, StoreError> {
        let row = sqlx::query("SELECT room FROM projector_links WHERE token = ?")
            .bind(token)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| RoomCode::parse(r.get("room")).map_err(corrupt("room"))).transpose()
    }
}

fn user_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<User, StoreError> {
    Ok(User {
        id: r.get("id"),
        name: Username::parse(r.get("username")).map_err(corrupt("username"))?,
        role: Role::parse(r.get("role")).map_err(corrupt("role"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_login_works_until_it_expires_and_not_after_logout() {
        let dir =
            std::env::temp_dir().join(format!("classhub-logins-{}-{:08x}", std::process::id(), rand::random::<u32>()));
        let store = Store::open(&dir).await.unwrap();
        let name = Username::parse("docent").unwrap();
        let id = store.add_user(&name, Role::Teacher, "$argon2id$stub", 1_000).await.unwrap();
        assert!(matches!(store.add_user(&name, Role::Admin, "x", 1_000).await, Err(StoreError::UserExists(_))));
        let token = LoginToken::generate();
        store.add_login(&token, id, 1_000, 2_000).await.unwrap();
        assert_eq!(store.login(&token, 1_999).await.unwrap().map(|u| u.role), Some(Role::Teacher));
        assert_eq!(store.login(&token, 2_000).await.unwrap(), None, "expired");
        let other = LoginToken::generate();
        store.add_login(&other, id, 1_000, 9_000).await.unwrap();
        store.end_login(&other, 1_500).await.unwrap();
        assert_eq!(store.login(&other, 1_600).await.unwrap(), None, "logged out");
        assert_eq!(store.login(&LoginToken::generate(), 1_600).await.unwrap(), None, "a made-up token");
    }
}
