//! The roster uploaded on the admin page: a OneRoster zip loads, its broken row is listed, and the
//! same upload again changes nothing.

use std::io::Write;

use classhub_tests::TestApp;

fn bundle() -> Vec<u8> {
    let files = [
        (
            "orgs.csv",
            "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\ns1,,,Het Baken,school,,\n",
        ),
        ("courses.csv", "sourcedId,title,orgSourcedId\nc1,Wiskunde,s1\n"),
        ("classes.csv", "sourcedId,title,courseSourcedId,schoolSourcedId\nk1,3A wiskunde,c1,s1\n"),
        (
            "users.csv",
            "sourcedId,role,username,givenName,familyName,email\nu1,student,anna,Anna,de Vries,anna@school.nl\nu2,student,bram,Bram,\n",
        ),
        ("enrollments.csv", "sourcedId,classSourcedId,schoolSourcedId,userSourcedId,role\ne1,k1,s1,u1,student\n"),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, text) in files {
        zip.start_file(name, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn multipart(zip: &[u8]) -> (String, Vec<u8>) {
    let boundary = "classhub-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"bundle\"; filename=\"roster.zip\"\r\nContent-Type: application/zip\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(zip);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn an_admin_uploads_the_roster_twice_and_the_second_time_nothing_changes() {
    let app = TestApp::spawn("roster").await;
    let (content_type, body) = multipart(&bundle());
    let origin = format!("http://{}", app.http);
    let headers =
        [("Content-Type", content_type.as_str()), ("Cookie", app.cookie.as_str()), ("Origin", origin.as_str())];
    let first = app.send_bytes("POST", "/admin/roster", &headers, &body).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body.contains("5 toegevoegd, 0 bijgewerkt, 0 verwijderd, 0 ongewijzigd"), "{}", first.body);
    assert!(first.body.contains("users.csv line 3: familyName is empty"), "{}", first.body);
    let again = app.send_bytes("POST", "/admin/roster", &headers, &body).await;
    assert!(again.body.contains("0 toegevoegd, 0 bijgewerkt, 0 verwijderd, 5 ongewijzigd"), "{}", again.body);
    let not_zip = multipart(b"not a zip");
    let headers = [("Content-Type", not_zip.0.as_str()), ("Cookie", app.cookie.as_str()), ("Origin", origin.as_str())];
    let bad = app.send_bytes("POST", "/admin/roster", &headers, &not_zip.1).await;
    assert_eq!(bad.status, 400);
    app.stop().await;
}

fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[tokio::test]
async fn a_teacher_settles_the_online_accounts_matching_could_not() {
    let app = TestApp::spawn("review").await;
    let roster = zip_of(&[
        ("orgs.csv", "sourcedId,name,type\ns1,Het Baken,school\n"),
        (
            "users.csv",
            "sourcedId,role,username,givenName,familyName,email\n\
             u1,student,anna,Anna,de Vries,anna@school.nl\n\
             u2,student,bjansen,Bram,Jansen,\n\
             u3,student,bjansen2,Bram,Jansen,\n",
        ),
    ]);
    let (content_type, body) = multipart(&roster);
    let origin = format!("http://{}", app.http);
    let headers =
        [("Content-Type", content_type.as_str()), ("Cookie", app.cookie.as_str()), ("Origin", origin.as_str())];
    assert_eq!(app.send_bytes("POST", "/admin/roster", &headers, &body).await.status, 200);

    // Online: Anna by name in Moodle and by e-mail over xAPI, two accounts named Bram Jansen, and Cem.
    let tz = jiff::tz::TimeZone::get("Europe/Amsterdam").unwrap();
    let logs = "Time,User full name,Event context,Event name\n\
        \"20/11/26, 10:15\",Anna de Vries,Course: Wiskunde,Course viewed\n\
        \"20/11/26, 10:16\",Bram Jansen,Course: Wiskunde,Course viewed\n\
        \"20/11/26, 10:17\",Cem Yilmaz,Course: Wiskunde,Course viewed\n";
    let read = hub::blend::activity::moodle_logs("logs.csv", logs, &tz);
    let store = app.store().await;
    store.keep_online_events(&read.events).await.unwrap();
    let statement = serde_json::json!({ "actor": { "mbox": "mailto:Anna@school.nl" },
        "verb": { "id": "http://adlnet.gov/expapi/verbs/completed" }, "object": { "id": "https://lms.school.nl/quiz/1" } });
    store
        .keep_statements(
            "lms",
            &[hub::store::NewStatement { id: hub::blend::xapi::new_uuid(), json: statement }],
            1_000,
        )
        .await
        .unwrap();
    store.close().await;

    let page = app.page("/online/review").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("2 accounts automatisch gekoppeld."), "Anna twice: {}", page.body);
    assert!(page.body.contains("<td>Bram Jansen</td>") && page.body.contains("meerdere leerlingen mogelijk"));
    assert!(page.body.contains("<td>Cem Yilmaz</td>") && page.body.contains("geen leerling gevonden"));

    let r = app.post_form("/online/review", "identity=name%3ABram+Jansen&student=u3").await;
    assert_eq!(r.status, 303);
    let r = app.post_form("/online/review", "identity=name%3ACem+Yilmaz&student=").await;
    assert_eq!(r.status, 303, "Cem is not a student of this class");
    assert_eq!(app.post_form("/online/review", "identity=name%3AX&student=u99").await.status, 400);
    let after = app.page("/online/review").await;
    assert!(after.body.contains("Niets na te kijken."), "{}", after.body);
    app.stop().await;
}
