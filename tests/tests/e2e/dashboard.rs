//! The dashboard over real HTTP: who may open what, logging in and out, the teacher's forms, the
//! projector's link, the technician's list, and a lesson seen through the pages.

use std::time::Duration;

use classhub_tests::{TEST_PASSWORD, TestApp, unique_room};
use firmware::State;
use firmware::protocol::Button;
use firmware::sim::{Class, Plan};

#[tokio::test]
async fn without_a_login_only_the_login_page_healthz_and_the_projector_link_answer() {
    let app = TestApp::spawn("anon").await;
    for page in ["/rooms", "/rooms/r1", "/devices", "/"] {
        let r = app.send("GET", page, &[], "").await;
        assert_eq!(r.status, 303, "{page}");
        assert!(r.header("location").unwrap().starts_with("/login"), "{page} sends to the login page");
    }
    for api in ["/api/v1/rooms/r1/live", "/metrics"] {
        assert_eq!(app.send("GET", api, &[], "").await.status, 401, "{api}");
    }
    let post = app.send("POST", "/api/v1/devices", &[("Content-Type", "application/json")], r#"{"room":"r1"}"#).await;
    assert_eq!(post.status, 401, "no clicker is registered without a login");
    assert_eq!(app.send("GET", "/healthz", &[], "").await.status, 200);
    let login = app.send("GET", "/login", &[("Accept-Language", "en-GB")], "").await;
    assert_eq!(login.status, 200);
    assert!(login.body.contains("User name"));
    assert_eq!(app.send("GET", "/projector/0123456789abcdef0123456789abcdef", &[], "").await.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn a_teacher_reaches_lessons_a_technician_devices_and_neither_the_other() {
    let app = TestApp::spawn("roles").await;
    app.add_user("docent", "teacher", TEST_PASSWORD).await;
    app.add_user("ict", "technician", TEST_PASSWORD).await;
    let teacher = app.log_in("docent", TEST_PASSWORD).await.expect("teacher logs in");
    let tech = app.log_in("ict", TEST_PASSWORD).await.expect("technician logs in");
    let get = |path: &'static str, cookie: String| {
        let app = &app;
        async move { app.send("GET", path, &[("Cookie", cookie.as_str())], "").await }
    };
    assert_eq!(get("/rooms", teacher.clone()).await.status, 200);
    assert_eq!(get("/devices", teacher.clone()).await.status, 403);
    assert_eq!(get("/metrics", teacher.clone()).await.status, 403);
    assert_eq!(get("/devices", tech.clone()).await.status, 200);
    assert_eq!(get("/metrics", tech.clone()).await.status, 200);
    assert_eq!(get("/rooms", tech.clone()).await.status, 403);
    assert_eq!(get("/api/v1/rooms/r1/live", tech.clone()).await.status, 403);
    // Each lands on their own home after logging in.
    let r = app.send("GET", "/", &[("Cookie", teacher.as_str())], "").await;
    assert_eq!(r.header("location"), Some("/rooms"));
    let r = app.send("GET", "/", &[("Cookie", tech.as_str())], "").await;
    assert_eq!(r.header("location"), Some("/devices"));
    app.stop().await;
}

#[tokio::test]
async fn wrong_passwords_are_refused_then_slowed_and_logout_ends_the_login() {
    let app = TestApp::spawn("login").await;
    app.add_user("docent", "teacher", TEST_PASSWORD).await;
    let wrong = app.log_in("docent", "not-the-password").await.expect_err("refused");
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Gebruikersnaam of wachtwoord klopt niet."), "Dutch by default");
    assert!(app.log_in("nobody", "not-the-password").await.is_err(), "an unknown name is refused the same way");
    for _ in 0..3 {
        let _ = app.log_in("docent", "still-wrong-password").await;
    }
    let slowed = app.log_in("docent", TEST_PASSWORD).await.expect_err("slowed down, even with the right password");
    assert_eq!(slowed.status, 429);
    assert!(slowed.header("retry-after").is_some());
    tokio::time::sleep(Duration::from_millis(1_100)).await; // the first wait is one second
    let cookie = app.log_in("docent", TEST_PASSWORD).await.expect("after the wait the right password works");

    let set = app
        .send(
            "POST",
            "/login",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &format!("username=docent&password={TEST_PASSWORD}"),
        )
        .await;
    let attributes = set.header("set-cookie").unwrap();
    assert!(attributes.contains("HttpOnly") && attributes.contains("SameSite=Strict"), "{attributes}");

    assert_eq!(app.send("GET", "/rooms", &[("Cookie", cookie.as_str())], "").await.status, 200);
    let origin = format!("http://{}", app.http);
    let out = app.send("POST", "/logout", &[("Cookie", cookie.as_str()), ("Origin", origin.as_str())], "").await;
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(
        app.send("GET", "/rooms", &[("Cookie", cookie.as_str())], "").await.status,
        303,
        "the old cookie is dead"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_request_from_another_site_changes_nothing() {
    let app = TestApp::spawn("csrf").await;
    let room = unique_room("csrf");
    let evil = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Cookie", app.cookie.as_str()),
        ("Origin", "http://evil.example"),
    ];
    let r = app.send("POST", &format!("/rooms/{room}/session"), &evil, "class_name=3A").await;
    assert_eq!(r.status, 403);
    assert!(app.engine.live(&room).and_then(|l| l.session).is_none(), "no session was started");
    let fetch = [("Cookie", app.cookie.as_str()), ("Sec-Fetch-Site", "cross-site")];
    assert_eq!(app.send("POST", &format!("/rooms/{room}/session/end"), &fetch, "").await.status, 403);
    app.stop().await;
}

#[tokio::test]
async fn a_lesson_through_the_pages_28_students_23_b_and_the_projector_shows_the_histogram_after_reveal() {
    let app = TestApp::spawn("pages").await;
    let room = unique_room("pages");
    let cfg = app.register_class(&room, "pages", 28).await;
    let base = format!("/rooms/{room}");

    let r = app.post_form(&format!("{base}/session"), "class_name=3A").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = app.post_form(&format!("{base}/question"), "kind=single&options=4&correct=b&timer_s=").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let bad = app.post_form(&format!("{base}/question"), "kind=single&options=9").await;
    assert_eq!(bad.status, 400, "a question with 9 options is refused on the page");
    assert!(bad.body.contains("role=\"alert\""));

    let page = app.page(&base).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("0 van 28 beantwoord"), "{}", page.body);
    let link = page.body.split("href=\"/projector/").nth(1).and_then(|s| s.split('"').next()).expect("projector link");
    let projector = format!("/projector/{link}");

    let class = Class::start(cfg);
    class.wait_until(|s| s.sees_open_question(), Duration::from_secs(10)).await.expect("online");
    class.play(&Plan::Counts(vec![(Button::B, 23), (Button::C, 5)]), 500, 1).await;
    class.wait_until(|s| s.state == State::Stored, Duration::from_secs(15)).await.expect("stored");

    let page = app.page(&base).await;
    assert!(page.body.contains("28 van 28 beantwoord"));
    assert_eq!(page.body.matches("class=\"answered\"").count(), 28, "the grid shows who answered");
    assert!(!page.body.contains("<svg"), "not what, while open");

    let before = app.send("GET", &projector, &[("Accept-Language", "en")], "").await;
    assert_eq!(before.status, 200, "the projector needs no login");
    assert!(before.body.contains("28 of 28 answered") && !before.body.contains("<svg"));

    assert_eq!(app.post_form(&format!("{base}/question/close"), "").await.status, 303);
    let closed = app.page(&base).await;
    assert!(closed.body.contains("<svg") && closed.body.contains(">23</text>"), "the teacher sees the distribution");
    let still_hidden = app.send("GET", &projector, &[], "").await;
    assert!(!still_hidden.body.contains("<svg"), "the class sees it only after reveal");

    assert_eq!(app.post_form(&format!("{base}/question/reveal"), "").await.status, 303);
    let shown = app.send("GET", &projector, &[], "").await;
    assert!(shown.body.contains("<svg") && shown.body.contains(">23</text>") && shown.body.contains(">5</text>"));
    assert!(shown.body.contains("B ✓"));
    for seat in ["sim-0001", "sim-0028"] {
        assert!(!shown.body.contains(seat), "never a name or a clicker on the projector");
    }

    // A new link: the old one stops working.
    assert_eq!(app.post_form(&format!("{base}/projector/rotate"), "").await.status, 303);
    assert_eq!(app.send("GET", &projector, &[], "").await.status, 404);
    assert_eq!(app.post_form(&format!("{base}/session/end"), "").await.status, 303);
    app.stop().await;
}

#[tokio::test]
async fn the_teacher_page_stream_sends_the_live_part_as_html_and_ends_when_the_hub_stops() {
    let app = TestApp::spawn("fragment").await;
    let room = unique_room("frag");
    app.register_class(&room, "frag", 3).await;
    app.open_single(&room, 2).await;
    let mut stream = tokio::net::TcpStream::connect(app.http).await.unwrap();
    let req = format!("GET /rooms/{room}/events HTTP/1.1\r\nHost: hub\r\nCookie: {}\r\n\r\n", app.cookie);
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !text.contains("beantwoord") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await.expect("an event").unwrap();
        assert!(n > 0, "stream ended: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(text.contains("event: fragment"));
    assert!(text.contains("0 van 3 beantwoord"));
    // The stream is still open: stopping the hub must end it, not wait for the browser to leave.
    app.stop().await;
    drop(stream);
}

#[tokio::test]
async fn the_technician_registers_a_clicker_filters_and_reassigns_it() {
    let app = TestApp::spawn("tech").await;
    let r = app.post_form("/devices", "room=lokaal-12&student=Anna+de+Vries").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body.contains("Sleutel"), "the key is shown once");
    let id = r.body.split("<code>").nth(1).and_then(|s| s.split('<').next()).expect("device id").to_owned();
    let list = app.page("/devices?sort=student").await;
    assert!(list.body.contains("Anna de Vries") && list.body.contains("lokaal-12"));
    assert!(list.body.contains("nooit"), "never seen yet");
    let low = app.page("/devices?battery_low=1").await;
    assert!(!low.body.contains(&id), "no battery reading is not a low battery");
    let unseen = app.page("/devices?unseen_days=7").await;
    assert!(unseen.body.contains(&id), "never seen counts as not seen for a week");
    let r = app.post_form(&format!("/devices/{id}/student"), "student=Bram+Jansen").await;
    assert_eq!(r.status, 303);
    let list = app.page("/devices").await;
    assert!(list.body.contains("Bram Jansen") && !list.body.contains("Anna de Vries"));
    let bad = app.post_form("/devices", "room=&student=").await;
    assert_eq!(bad.status, 400);
    assert_eq!(app.post_form("/devices/c-00000000/student", "student=X").await.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn the_language_switch_sticks() {
    let app = TestApp::spawn("lang").await;
    let r = app.send("GET", "/lang/en?back=/rooms", &[], "").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/rooms"));
    let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let both = format!("{}; {cookie}", app.cookie);
    let page = app.send("GET", "/rooms", &[("Cookie", both.as_str()), ("Accept-Language", "nl")], "").await;
    assert!(page.body.contains("<html lang=\"en\">") && page.body.contains(">Nederlands</a>"));
    let away = app.send("GET", "/lang/nl?back=//evil.example", &[], "").await;
    assert_eq!(away.header("location"), Some("/"), "never sent to another site");
    app.stop().await;
}

#[tokio::test]
async fn a_draining_battery_is_listed_for_the_technician_and_warned_to_the_teacher() {
    let app = TestApp::spawn("battery").await;
    let room = unique_room("bat");
    let cfg = app.register_class(&room, "bat", 2).await;
    let (draining, steady) = (cfg.identities[0].device.to_string(), cfg.identities[1].device.to_string());
    let store = app.store().await;
    let now = hub::store::now_ms();
    const DAY: i64 = 86_400_000;
    for d in 0..6 {
        // 2.9 V five days ago, 100 mV a day down: 2.4 V now, flat in four days.
        store.add_battery_reading(&draining, now - (5 - d) * DAY, 2_900 - 100 * d as u32).await.unwrap();
        store.add_battery_reading(&steady, now - (5 - d) * DAY, 2_950).await.unwrap();
    }
    store.close().await;
    let low = app.page("/devices?battery_low=1").await;
    assert!(low.body.contains(&draining) && !low.body.contains(&steady), "{}", low.body);
    assert!(low.body.contains("leeg over ± 4 dagen"), "{}", low.body);
    let teacher = app.page(&format!("/rooms/{room}")).await;
    assert!(teacher.body.contains("1 stemkastjes hebben bijna lege batterijen:") && teacher.body.contains(&draining));
    app.stop().await;
}
