//! A fresh, migrated database per test, dropped when the test ends.

use hookvault_core::ids::{EndpointId, UserId};
use hookvault_store::testing::TestDatabase;
use hookvault_store::{Deadlines, PgPool};

/// A test's database with one user and one endpoint. The database is dropped with this value
/// (close the pool first, or its connections are closed for it).
pub struct Fresh {
    pub pool: PgPool,
    pub user: UserId,
    pub endpoint: EndpointId,
    pub db: TestDatabase,
}

pub async fn fresh() -> Fresh {
    let db = TestDatabase::create("store").await;
    let pool = hookvault_store::connect(db.options(), 4, Deadlines::WEB)
        .await
        .expect("pool");
    hookvault_store::migrate(&pool).await.expect("migrate");
    let (user, endpoint) = (UserId::now_v7(), EndpointId::now_v7());
    hookvault_store::users::insert_user(&pool, user, &format!("{user}@example.com"), "x")
        .await
        .expect("user");
    hookvault_store::endpoints::insert_endpoint(&pool, endpoint, user, "feed", &user.to_string())
        .await
        .expect("endpoint");
    Fresh {
        pool,
        user,
        endpoint,
        db,
    }
}
