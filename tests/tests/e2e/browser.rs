//! In a real headless Chromium: a teacher logs in, starts a session and opens a question, 28
//! simulated clickers answer and the page updates itself to 28 of 28; the projector shows the
//! histogram after reveal; a technician sees the devices. Screenshots in `target/screenshots/`.

use std::time::Duration;

use classhub_tests::browser::Browser;
use classhub_tests::{TEST_PASSWORD, TestApp, unique_room};
use firmware::State;
use firmware::protocol::Button;
use firmware::sim::{Class, Plan};

#[tokio::test]
#[ignore = "needs chromium and chromium-driver"]
async fn a_lesson_in_the_browser_teacher_projector_and_technician() {
    let app = TestApp::spawn("browser").await;
    app.add_user("docent", "teacher", TEST_PASSWORD).await;
    app.add_user("ict", "technician", TEST_PASSWORD).await;
    let room = unique_room("web");
    let cfg = app.register_class(&room, "web", 28).await;
    let site = format!("http://{}", app.http);
    let browser = Browser::start().await;

    // The teacher logs in and lands on the rooms.
    browser.open(&format!("{site}/rooms/{room}")).await;
    browser.wait_for("name=\"password\"", Duration::from_secs(10)).await;
    browser.screenshot("login").await;
    browser.type_into("#username", "docent").await;
    browser.type_into("#password", TEST_PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for("name=\"class_name\"", Duration::from_secs(10)).await;
    assert!(browser.url().await.ends_with(&format!("/rooms/{room}")), "back where the teacher was going");

    // Start a session and open a question.
    browser.type_into("#class_name", "3A").await;
    browser.click("form[action$='/session'] button").await;
    browser.wait_for("name=\"kind\"", Duration::from_secs(10)).await;
    browser.select("#kind", "single").await;
    browser.click("form[action$='/question'] button").await;
    let html = browser.wait_for("0 van 28 beantwoord", Duration::from_secs(10)).await;
    let projector = html.split("href=\"/projector/").nth(1).and_then(|s| s.split('"').next()).expect("projector link");
    let projector = format!("{site}/projector/{projector}");

    // 28 clickers answer; the open page updates itself over its stream, without a reload.
    let class = Class::start(cfg);
    class.wait_until(|s| s.sees_open_question(), Duration::from_secs(10)).await.expect("online");
    class.play(&Plan::Counts(vec![(Button::B, 23), (Button::C, 5)]), 500, 1).await;
    class.wait_until(|s| s.state == State::Stored, Duration::from_secs(15)).await.expect("stored");
    let html = browser.wait_for("28 van 28 beantwoord", Duration::from_secs(10)).await;
    assert_eq!(html.matches("class=\"answered\"").count(), 28);
    browser.screenshot("teacher").await;

    // The projector: no login, the count, and the histogram only after reveal.
    browser.open(&projector).await;
    browser.wait_for("28 van 28 beantwoord", Duration::from_secs(10)).await;
    assert!(!browser.source().await.contains("<svg"));
    app.engine.close_question(room.clone()).await.unwrap();
    app.engine.reveal(room.clone()).await.unwrap();
    let html = browser.wait_for("<svg", Duration::from_secs(10)).await;
    assert!(html.contains(">23</text>") && html.contains(">5</text>"));
    browser.screenshot("projector").await;
    browser.quit().await;

    // A technician sees the devices.
    let browser = Browser::start().await;
    browser.open(&format!("{site}/login")).await;
    browser.type_into("#username", "ict").await;
    browser.type_into("#password", TEST_PASSWORD).await;
    browser.click("button[type=submit]").await;
    let html = browser.wait_for("sim-0028", Duration::from_secs(10)).await;
    assert!(html.contains(room.as_str()));
    browser.screenshot("devices").await;
    browser.quit().await;
    app.stop().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromium-driver"]
async fn the_projector_says_when_the_hub_is_gone_and_comes_back_by_itself() {
    let app = TestApp::spawn("restart-browser").await;
    let room = unique_room("back");
    app.register_class(&room, "back", 3).await;
    app.open_single(&room, 2).await;
    let base = format!("/rooms/{room}");
    let page = app.page(&base).await;
    let link = page.body.split("href=\"/projector/").nth(1).and_then(|s| s.split('"').next()).expect("link").to_owned();
    let (http, data) = (app.http, app.data.clone());
    let browser = Browser::start().await;
    browser.open(&format!("http://{http}/projector/{link}")).await;
    browser.wait_for("0 van 3 beantwoord", Duration::from_secs(10)).await;

    app.stop().await;
    // The banner's text, not its data attribute: `>…</div>`.
    browser.wait_for(">Verbinding met de hub verbroken; opnieuw verbinden…</div>", Duration::from_secs(15)).await;
    browser.screenshot("projector-connection-lost").await;

    // The hub comes back on the same address with the same data; three clickers answer.
    let app = TestApp::spawn_at(data, None, http).await;
    let cfg = firmware::sim::ClassConfig::new(app.mqtt.clone(), room.clone(), "back", 3);
    let class = Class::start(cfg);
    class.wait_until(|s| s.sees_open_question(), Duration::from_secs(10)).await.expect("online");
    class.play(&Plan::Everyone(Button::A), 100, 7).await;
    class.wait_until(|s| s.state == State::Stored, Duration::from_secs(10)).await.expect("stored");
    let html = browser.wait_for("3 van 3 beantwoord", Duration::from_secs(20)).await;
    assert!(html.contains(">Weer verbonden.</div>"), "the page says it is back: {html}");
    browser.quit().await;
    app.stop().await;
}
