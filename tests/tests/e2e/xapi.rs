//! The xAPI statement resource over real HTTP: headers, credentials, POST and PUT with their id
//! rules, all-or-nothing batches, conflicts, voiding, and queries with `more` paging.

use base64::Engine as _;
use classhub_tests::{HttpResponse, TestApp};
use serde_json::{Value, json};

struct Lrs {
    app: TestApp,
    auth: String,
}

impl Lrs {
    async fn start(name: &str) -> Lrs {
        let app = TestApp::spawn(name).await;
        let store = app.store().await;
        let (key, secret) = store.add_xapi_source("moodle", hub::store::now_ms()).await.unwrap();
        store.close().await;
        let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}")));
        Lrs { app, auth }
    }

    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> HttpResponse {
        let body = body.map(Value::to_string).unwrap_or_default();
        let headers = [
            ("Authorization", self.auth.as_str()),
            ("X-Experience-API-Version", "1.0.3"),
            ("Content-Type", "application/json"),
        ];
        self.app.send(method, path, &headers, &body).await
    }
}

fn statement(who: &str, verb: &str, activity: &str) -> Value {
    json!({
        "actor": { "mbox": format!("mailto:{who}@school.nl") },
        "verb": { "id": format!("http://adlnet.gov/expapi/verbs/{verb}") },
        "object": { "id": format!("https://moodle.school.nl/mod/{activity}") },
        "result": { "score": { "scaled": 0.7 } }
    })
}

fn json_of(r: &HttpResponse) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

#[tokio::test]
async fn headers_and_credentials_come_first() {
    let lrs = Lrs::start("xapi-headers").await;
    let about = lrs.app.send("GET", "/xapi/about", &[], "").await;
    assert_eq!(about.status, 200);
    assert_eq!(about.header("x-experience-api-version"), Some("1.0.3"));
    assert_eq!(json_of(&about)["version"], json!(["1.0.3"]));
    let no_version = lrs.app.send("GET", "/xapi/statements", &[("Authorization", lrs.auth.as_str())], "").await;
    assert_eq!(no_version.status, 400);
    let anonymous = lrs.app.send("GET", "/xapi/statements", &[("X-Experience-API-Version", "1.0.3")], "").await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.header("www-authenticate").unwrap().starts_with("Basic"));
    let wrong = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("key:wrong"));
    let headers = [("Authorization", wrong.as_str()), ("X-Experience-API-Version", "1.0.3")];
    assert_eq!(lrs.app.send("GET", "/xapi/statements", &headers, "").await.status, 401);
    let r = lrs.call("GET", "/xapi/statements", None).await;
    assert_eq!(r.status, 200);
    assert!(r.header("x-experience-api-consistent-through").is_some());
    lrs.app.stop().await;
}

#[tokio::test]
async fn post_put_and_the_id_rules() {
    let lrs = Lrs::start("xapi-ids").await;
    let r = lrs.call("POST", "/xapi/statements", Some(&statement("anna", "completed", "quiz/1"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = json_of(&r)[0].as_str().unwrap().to_owned();
    let got = lrs.call("GET", &format!("/xapi/statements?statementId={id}"), None).await;
    assert_eq!(got.status, 200);
    let kept = json_of(&got);
    assert_eq!(kept["id"], json!(id));
    assert!(kept["stored"].is_string() && kept["authority"]["account"]["name"] == json!("moodle"));

    // A batch with one bad statement keeps nothing.
    let mut bad = statement("bram", "completed", "quiz/1");
    bad["result"]["score"]["scaled"] = json!(2);
    let batch = json!([statement("cem", "completed", "quiz/1"), bad]);
    let r = lrs.call("POST", "/xapi/statements", Some(&batch)).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("statement 1: result.score.scaled"), "{}", r.body);
    let all = json_of(&lrs.call("GET", "/xapi/statements", None).await);
    assert_eq!(all["statements"].as_array().unwrap().len(), 1, "all or nothing");

    let put_id = "6d7f3c2a-1b4e-4c8d-9a0f-2e5b7c9d1a3e";
    let mut s = statement("daan", "attempted", "quiz/2");
    let path = format!("/xapi/statements?statementId={put_id}");
    assert_eq!(lrs.call("PUT", &path, Some(&s)).await.status, 204);
    assert_eq!(lrs.call("PUT", &path, Some(&s)).await.status, 204, "the same statement again: no change");
    s["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/passed");
    assert_eq!(lrs.call("PUT", &path, Some(&s)).await.status, 409, "same id, other content");
    s["id"] = json!(put_id);
    assert_eq!(lrs.call("POST", "/xapi/statements", Some(&s)).await.status, 409);
    s["id"] = json!("00000000-0000-4000-8000-000000000000");
    assert_eq!(lrs.call("PUT", &path, Some(&s)).await.status, 400, "the body's id is not statementId");
    assert_eq!(lrs.call("PUT", "/xapi/statements", Some(&s)).await.status, 400, "PUT needs statementId");
    let twice = json!([{ "id": put_id, "actor": s["actor"], "verb": s["verb"], "object": s["object"] }, { "id": put_id, "actor": s["actor"], "verb": s["verb"], "object": s["object"] }]);
    assert_eq!(lrs.call("POST", "/xapi/statements", Some(&twice)).await.status, 400);
    assert_eq!(
        lrs.call("GET", "/xapi/statements?statementId=00000000-0000-4000-8000-00000000beef", None).await.status,
        404
    );
    assert_eq!(lrs.call("GET", &format!("/xapi/statements?statementId={id}&verb=x:y"), None).await.status, 400);
    assert_eq!(lrs.call("GET", "/xapi/statements?colour=red", None).await.status, 400);
    lrs.app.stop().await;
}

#[tokio::test]
async fn voiding_hides_a_statement_and_cannot_be_voided_itself() {
    let lrs = Lrs::start("xapi-void").await;
    let r = lrs.call("POST", "/xapi/statements", Some(&statement("anna", "completed", "quiz/1"))).await;
    let target = json_of(&r)[0].as_str().unwrap().to_owned();
    let void = json!({
        "actor": { "mbox": "mailto:docent@school.nl" },
        "verb": { "id": "http://adlnet.gov/expapi/verbs/voided" },
        "object": { "objectType": "StatementRef", "id": target }
    });
    let r = lrs.call("POST", "/xapi/statements", Some(&void)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let voiding = json_of(&r)[0].as_str().unwrap().to_owned();
    assert_eq!(lrs.call("GET", &format!("/xapi/statements?statementId={target}"), None).await.status, 404);
    assert_eq!(lrs.call("GET", &format!("/xapi/statements?voidedStatementId={target}"), None).await.status, 200);
    let listed = json_of(&lrs.call("GET", "/xapi/statements", None).await);
    let ids: Vec<&str> = listed["statements"].as_array().unwrap().iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, [voiding.as_str()], "only the voiding statement is listed");
    let void_the_void = json!({
        "actor": { "mbox": "mailto:docent@school.nl" },
        "verb": { "id": "http://adlnet.gov/expapi/verbs/voided" },
        "object": { "objectType": "StatementRef", "id": voiding }
    });
    assert_eq!(lrs.call("POST", "/xapi/statements", Some(&void_the_void)).await.status, 400);
    lrs.app.stop().await;
}

#[tokio::test]
async fn queries_filter_and_page_with_more() {
    let lrs = Lrs::start("xapi-query").await;
    let mut batch = Vec::new();
    for i in 0..5 {
        batch.push(statement("anna", "completed", &format!("quiz/{i}")));
    }
    batch.push(statement("bram", "completed", "quiz/0"));
    batch.push(statement("anna", "attempted", "quiz/0"));
    assert_eq!(lrs.call("POST", "/xapi/statements", Some(&Value::Array(batch))).await.status, 200);

    let agent = "%7B%22mbox%22%3A%22mailto%3Aanna%40school.nl%22%7D";
    let verb = "http%3A%2F%2Fadlnet.gov%2Fexpapi%2Fverbs%2Fcompleted";
    let first = json_of(
        &lrs.call("GET", &format!("/xapi/statements?agent={agent}&verb={verb}&limit=2&ascending=true"), None).await,
    );
    let objects = |page: &Value| -> Vec<String> {
        page["statements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["object"]["id"].as_str().unwrap().rsplit('/').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(objects(&first), ["0", "1"]);
    let mut seen = objects(&first);
    let mut more = first["more"].as_str().unwrap().to_owned();
    while !more.is_empty() {
        let page = json_of(&lrs.call("GET", &more, None).await);
        seen.extend(objects(&page));
        more = page["more"].as_str().unwrap().to_owned();
    }
    assert_eq!(seen, ["0", "1", "2", "3", "4"], "anna's five completions, in order, each once");
    let activity = "https%3A%2F%2Fmoodle.school.nl%2Fmod%2Fquiz%2F0";
    let on_quiz0 = json_of(&lrs.call("GET", &format!("/xapi/statements?activity={activity}"), None).await);
    assert_eq!(on_quiz0["statements"].as_array().unwrap().len(), 3);
    assert_eq!(on_quiz0["more"], json!(""));
    let later = json_of(&lrs.call("GET", "/xapi/statements?since=2100-01-01T00:00:00Z", None).await);
    assert!(later["statements"].as_array().unwrap().is_empty());
    assert_eq!(lrs.call("GET", "/xapi/statements?since=yesterday", None).await.status, 400);
    assert_eq!(lrs.call("GET", "/xapi/statements?agent=anna", None).await.status, 400);
    lrs.app.stop().await;
}

#[tokio::test]
async fn the_hubs_own_answers_and_check_ins_are_statements_under_pseudonyms() {
    use std::time::Duration;

    use firmware::State;
    use firmware::protocol::Button;
    use firmware::sim::{Class, Plan};

    let lrs = Lrs::start("xapi-own").await;
    let room = classhub_tests::unique_room("own");
    let cfg = lrs.app.register_class(&room, "own", 3).await;
    lrs.app.open_single(&room, 4).await;
    let class = Class::start(cfg);
    class.wait_until(|s| s.sees_open_question(), Duration::from_secs(10)).await.expect("online");
    class.play(&Plan::Everyone(Button::C), 200, 3).await;
    class.wait_until(|s| s.state == State::Stored, Duration::from_secs(10)).await.expect("stored");
    class.play(&Plan::CheckIn, 200, 4).await;
    class.wait_until(|s| s.state == State::Stored, Duration::from_secs(10)).await.expect("checked in");

    let store = lrs.app.store().await;
    assert_eq!(store.publish_own(1_000).await.unwrap(), 6, "three answers and three check-ins");
    assert_eq!(store.publish_own(1_000).await.unwrap(), 0, "publishing again adds nothing");
    assert!(store.all_online_identities().await.unwrap().is_empty(), "the hub's own are not online activity");
    store.close().await;

    let verb = "http%3A%2F%2Fadlnet.gov%2Fexpapi%2Fverbs%2Fanswered";
    let page = json_of(&lrs.call("GET", &format!("/xapi/statements?verb={verb}"), None).await);
    let answers = page["statements"].as_array().unwrap();
    assert_eq!(answers.len(), 3);
    for s in answers {
        assert_eq!(s["actor"]["account"]["homePage"], json!("urn:classhub:student"));
        assert_eq!(s["result"]["response"], json!("C"));
        assert!(!s.to_string().contains("sim-000"), "no clicker or student in a statement: {s}");
    }
    let names: std::collections::BTreeSet<&str> =
        answers.iter().filter_map(|s| s["actor"]["account"]["name"].as_str()).collect();
    assert_eq!(names.len(), 3, "one pseudonym per student");
    lrs.app.stop().await;
}

#[tokio::test]
async fn statements_are_forwarded_to_a_district_lrs_that_is_away_at_first() {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::http::{HeaderMap, StatusCode};
    use firmware::State;
    use firmware::protocol::Button;
    use firmware::sim::{Class, Plan};

    // A district LRS that answers 503 twice, then keeps what it gets.
    #[derive(Default)]
    struct District {
        calls: usize,
        ids: Vec<String>,
        auth_ok: bool,
    }
    let district = Arc::new(Mutex::new(District::default()));
    let router = axum::Router::new().route(
        "/xapi/statements",
        axum::routing::post({
            let district = district.clone();
            move |headers: HeaderMap, body: String| {
                let district = district.clone();
                async move {
                    let mut d = district.lock().unwrap();
                    d.calls += 1;
                    if d.calls <= 2 {
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let expected =
                        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("hub-b204:s3cret"));
                    d.auth_ok = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
                        && headers.get("x-experience-api-version").is_some();
                    let batch: Vec<Value> = serde_json::from_str(&body).unwrap();
                    d.ids.extend(batch.iter().filter_map(|s| s["id"].as_str().map(str::to_owned)));
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lrs_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let app = TestApp::spawn_with("xapi-forward", |s| {
        s.xapi.forward_url = Some(format!("http://{lrs_addr}/xapi"));
        s.xapi.forward_key = "hub-b204".into();
        s.xapi.forward_secret = "s3cret".into();
        s.xapi.forward_every_ms = 200;
    })
    .await;
    let room = classhub_tests::unique_room("fwd");
    let cfg = app.register_class(&room, "fwd", 3).await;
    app.open_single(&room, 4).await;
    let class = Class::start(cfg);
    class.wait_until(|s| s.sees_open_question(), Duration::from_secs(10)).await.expect("online");
    class.play(&Plan::Everyone(Button::A), 100, 5).await;
    class.wait_until(|s| s.state == State::Stored, Duration::from_secs(10)).await.expect("stored");
    let store = app.store().await;
    assert_eq!(store.publish_own(100).await.unwrap(), 3);
    store.close().await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while district.lock().unwrap().ids.len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "forwarded in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await; // room for a wrong second delivery
    let (calls, auth_ok, ids) = {
        let d = district.lock().unwrap();
        (d.calls, d.auth_ok, d.ids.clone())
    };
    assert!(calls >= 3, "two refusals, then taken");
    assert!(auth_ok, "the district's credentials and the version header");
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (3, 3), "each statement arrives once");
    app.stop().await;
}

#[tokio::test]
async fn related_filters_and_formats() {
    let lrs = Lrs::start("xapi-related").await;
    let mut in_context = statement("anna", "experienced", "page/7");
    in_context["context"] = json!({ "contextActivities": { "parent": [{ "id": "https://moodle.school.nl/mod/quiz/1" }] },
                                    "instructor": { "mbox": "mailto:docent@school.nl" } });
    in_context["actor"]["name"] = json!("Anna de Vries");
    in_context["verb"]["display"] = json!({ "en-US": "experienced", "nl-NL": "bekeek" });
    let batch = json!([statement("anna", "completed", "quiz/1"), in_context]);
    assert_eq!(lrs.call("POST", "/xapi/statements", Some(&batch)).await.status, 200);
    let activity = "https%3A%2F%2Fmoodle.school.nl%2Fmod%2Fquiz%2F1";
    let count = |v: &Value| v["statements"].as_array().unwrap().len();
    assert_eq!(count(&json_of(&lrs.call("GET", &format!("/xapi/statements?activity={activity}"), None).await)), 1);
    assert_eq!(
        count(&json_of(
            &lrs.call("GET", &format!("/xapi/statements?activity={activity}&related_activities=true"), None).await
        )),
        2
    );
    let docent = "%7B%22mbox%22%3A%22mailto%3Adocent%40school.nl%22%7D";
    assert_eq!(count(&json_of(&lrs.call("GET", &format!("/xapi/statements?agent={docent}"), None).await)), 0);
    assert_eq!(
        count(&json_of(&lrs.call("GET", &format!("/xapi/statements?agent={docent}&related_agents=true"), None).await)),
        1
    );
    let ids = json_of(
        &lrs.call(
            "GET",
            "/xapi/statements?format=ids&verb=http%3A%2F%2Fadlnet.gov%2Fexpapi%2Fverbs%2Fexperienced",
            None,
        )
        .await,
    );
    assert_eq!(ids["statements"][0]["actor"], json!({ "mbox": "mailto:anna@school.nl" }), "ids: no name");
    let headers =
        [("Authorization", lrs.auth.as_str()), ("X-Experience-API-Version", "1.0.3"), ("Accept-Language", "nl-NL")];
    let canonical = lrs
        .app
        .send(
            "GET",
            "/xapi/statements?format=canonical&verb=http%3A%2F%2Fadlnet.gov%2Fexpapi%2Fverbs%2Fexperienced",
            &headers,
            "",
        )
        .await;
    assert_eq!(json_of(&canonical)["statements"][0]["verb"]["display"], json!({ "nl-NL": "bekeek" }));
    assert_eq!(lrs.call("GET", "/xapi/statements?format=short", None).await.status, 400);
    assert_eq!(lrs.call("GET", "/xapi/statements?related_agents=yes", None).await.status, 400);
    lrs.app.stop().await;
}
