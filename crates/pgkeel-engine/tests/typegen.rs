//! Type generation reads a lighter model (no indexes, no policies): it must render exactly what
//! the full model renders.

use pgkeel_engine::db::introspect::{self, Detail, SchemaFilter};
use pgkeel_engine::types::{render, RenderOptions};
use pgkeel_testkit::TestDb;

#[tokio::test]
async fn the_types_detail_renders_like_the_full_model() {
    let db = TestDb::new().await;
    let c = db.client().await;
    c.batch_execute(
        "CREATE TYPE mood AS ENUM ('ok', 'sad');
         CREATE TABLE people (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text UNIQUE, mood mood);
         CREATE TABLE pets (id int PRIMARY KEY, owner bigint UNIQUE REFERENCES people, name text NOT NULL);
         CREATE INDEX pets_name ON pets (lower(name)) WHERE name <> '';
         ALTER TABLE pets ENABLE ROW LEVEL SECURITY;
         CREATE POLICY mine ON pets USING (owner = 1);
         CREATE VIEW named_pets AS SELECT id, name FROM pets;
         CREATE FUNCTION pet_count(p bigint) RETURNS int LANGUAGE sql STABLE AS 'SELECT 1';",
    )
    .await
    .unwrap();
    let filter = SchemaFilter {
        schemas: Some(vec!["public".into()]),
        ..SchemaFilter::default()
    };
    let full = introspect::describe_detail(&c, &filter, Detail::Full)
        .await
        .unwrap();
    let light = introspect::describe_detail(&c, &filter, Detail::Types)
        .await
        .unwrap();
    assert!(full
        .tables
        .iter()
        .any(|t| !t.indexes.is_empty() && !t.policies.is_empty()));
    assert!(light
        .tables
        .iter()
        .all(|t| t.indexes.is_empty() && t.policies.is_empty()));
    let opts = RenderOptions {
        schemas: vec!["public".into()],
        generator: "test".into(),
    };
    let (a, b) = (render(&full, &opts), render(&light, &opts));
    assert!(a.text.contains("pets"), "{}", a.text);
    assert_eq!(a.text, b.text);
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_eq!(full, introspect::describe(&c, &filter).await.unwrap());
}
