//! The waiting room of a `queue` sale (#26): whoever joins before the start
//! gets a random place at the start that anyone can check afterwards, later
//! entrants queue behind in arrival order, shoppers are let in as units are
//! left, an unused admission lapses, a returned unit lets the next one in, and
//! only admitted shoppers get a challenge or a ticket.

use std::sync::Arc;
use std::time::Duration;

use app::api::{
    ErrorCode, FairnessReport, JoinStretch, LineLive, LinePhase, QueueStanding, QueueState,
};
use server::clock::ShiftedClock;
use systests::{
    error_code, queue_sale_starting_in, sale_starting_in, spawn_app, spawn_app_with,
    spawn_app_with_clock, Shopper,
};

/// Sleeps until the sale has started (on this machine's clock, which the
/// server and Redis share here).
async fn until_started(starts_at_ms: i64) {
    let wait = starts_at_ms - server::clock::now_ms() + 50;
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
}

/// Joins every shopper, one after the other; each must be let in line.
async fn join_all(shoppers: &[Shopper], sale_id: i64) -> Vec<QueueStanding> {
    let mut joined = Vec::new();
    for shopper in shoppers {
        let response = shopper.join(sale_id).await;
        assert_eq!(response.status(), 200, "joining");
        joined.push(response.json().await.expect("a standing"));
    }
    joined
}

#[tokio::test]
async fn places_drawn_at_the_start_do_not_follow_the_order_of_joining() {
    let app = spawn_app().await;
    let sale = app.create_sale(&queue_sale_starting_in(4_000, 5, 1)).await;
    let shoppers = app.shoppers("early", 200).await;
    join_all(&shoppers, sale.id).await;
    until_started(sale.starts_at_ms).await;
    let mut pairs = Vec::new();
    for shopper in &shoppers {
        let standing = shopper.standing_until(sale.id, |s| s.place.is_some()).await;
        assert_eq!(standing.joined_before_start, Some(true));
        let joined = standing.joined_at_ms.unwrap() as f64 + shopper.user_id as f64 * 1e-9;
        pairs.push((joined, standing.place.unwrap() as f64));
    }
    let mut sorted: Vec<f64> = pairs.iter().map(|pair| pair.1).collect();
    sorted.sort_by(f64::total_cmp);
    let expected: Vec<f64> = (1..=200).map(f64::from).collect();
    assert_eq!(sorted, expected, "every entrant has one place of 1..=200");
    // 200 independent places: the correlation is noise (sd ≈ 0.07).
    let rho = systests::spearman(&pairs);
    assert!(
        rho.abs() < 0.25,
        "rank correlation of joining and place: {rho}"
    );
}

#[tokio::test]
async fn the_published_draw_reproduces_every_place_and_keeps_its_commitment() {
    let app = spawn_app().await;
    let sale = app.create_sale(&queue_sale_starting_in(2_500, 3, 1)).await;
    let before = app.draw(sale.id).await;
    assert_eq!(before.revealed, "", "nothing revealed before the start");
    assert_eq!(before.commitment.len(), 64);
    let shoppers = app.shoppers("verify", 30).await;
    join_all(&shoppers, sale.id).await;
    let counted = app.draw(sale.id).await;
    assert_eq!(counted.commitment, before.commitment);
    until_started(sale.starts_at_ms).await;
    let mut places = Vec::new();
    for shopper in &shoppers {
        let standing = shopper.standing_until(sale.id, |s| s.place.is_some()).await;
        places.push((shopper.user_id, standing.place.unwrap()));
    }
    let draw = app.draw(sale.id).await;
    assert_eq!(
        draw.commitment, before.commitment,
        "the commitment never moved"
    );
    assert_eq!(draw.pre_start_entrants, 30);
    let secret = unhex(&draw.revealed);
    assert_eq!(
        app::draw::hex(&app::draw::sha256(&secret)),
        draw.commitment,
        "the revealed secret is the committed one"
    );
    let listed = app.get(&draw.entrants_url).await;
    assert_eq!(listed.status(), 200);
    let text = listed.text().await.unwrap();
    let digest = app::draw::sha256(text.as_bytes());
    assert_eq!(app::draw::hex(&digest), draw.entries_digest);
    let seed = app::draw::seed(&secret, &digest);
    assert_eq!(app::draw::hex(&seed), draw.seed);
    let ids: Vec<i64> = text.lines().map(|line| line.parse().unwrap()).collect();
    let order = app::draw::order(&seed, &ids);
    for (user_id, place) in places {
        let recomputed = order.iter().position(|&id| id == user_id).unwrap() as u64 + 1;
        assert_eq!(recomputed, place, "user {user_id}");
    }
}

#[tokio::test]
async fn joining_twice_or_from_another_device_keeps_the_entry() {
    let app = spawn_app().await;
    let sale = app.create_sale(&queue_sale_starting_in(60_000, 3, 1)).await;
    let shopper = app.register("twice").await;
    let first = shopper.join(sale.id).await;
    assert_eq!(first.status(), 200);
    let first: QueueStanding = first.json().await.unwrap();
    assert_eq!(first.state, QueueState::Waiting);
    assert_eq!(first.joined_before_start, Some(true));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again: QueueStanding = shopper.join(sale.id).await.json().await.unwrap();
    assert_eq!(again.joined_at_ms, first.joined_at_ms);
    // The same account on another device, without the entry cookie: the
    // poll finds the entry, joining again changes nothing.
    let phone = app.log_in("twice").await;
    assert_eq!(
        phone.standing(sale.id).await.joined_at_ms,
        first.joined_at_ms
    );
    let from_phone: QueueStanding = phone.join(sale.id).await.json().await.unwrap();
    assert_eq!(from_phone.joined_at_ms, first.joined_at_ms);
    // Another account's first join from several devices at the same instant:
    // one entry, the same for all.
    let racer = app.register("racer").await;
    let mut devices = vec![racer];
    for _ in 0..5 {
        devices.push(app.log_in("racer").await);
    }
    let joins = futures_util::future::join_all(devices.iter().map(|d| d.join(sale.id))).await;
    let mut instants = std::collections::HashSet::new();
    for response in joins {
        let standing: QueueStanding = response.json().await.unwrap();
        instants.insert(standing.joined_at_ms);
    }
    assert_eq!(instants.len(), 1, "one entry: {instants:?}");
    let someone_else = app.register("someone-else").await;
    let theirs: QueueStanding = someone_else.join(sale.id).await.json().await.unwrap();
    assert_ne!(theirs.joined_at_ms, None);
    // One entry per account: the line counts three.
    let counted = shopper.standing_until(sale.id, |s| s.entrants == 3).await;
    assert_eq!(counted.joined_at_ms, first.joined_at_ms);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(shopper.standing(sale.id).await.entrants, 3);
}

#[tokio::test]
async fn the_line_refuses_before_it_opens_and_a_race_sale_has_none() {
    let app = spawn_app().await;
    let mut draft = queue_sale_starting_in(120_000, 3, 1);
    draft.queue_opens_at_ms = Some(server::clock::now_ms() + 60_000);
    let sale = app.create_sale(&draft).await;
    let shopper = app.register("early-bird").await;
    let early = shopper.join(sale.id).await;
    assert_eq!(early.status(), 425);
    let body: serde_json::Value = early.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::NotStarted);
    let race = app.create_sale(&sale_starting_in(-1_000, 3)).await;
    assert_eq!(race.admission, app::api::AdmissionMode::Race);
    assert_eq!(race.queue_opens_at_ms, None);
    assert_eq!(shopper.join(race.id).await.status(), 404);
    // A race sale sells as it always did.
    assert_eq!(shopper.buy(race.id).await.0, 202);
}

#[tokio::test]
async fn only_admitted_shoppers_get_a_challenge_or_a_ticket() {
    let app = spawn_app().await;
    let sale = app.create_sale(&queue_sale_starting_in(1_500, 1, 1)).await;
    let shoppers = app.shoppers("gate", 3).await;
    join_all(&shoppers, sale.id).await;
    let outsider = app.register("outsider").await;
    until_started(sale.starts_at_ms).await;
    // Not in line.
    let refused = outsider.ticket(sale.id).await;
    assert_eq!(refused.status(), 403);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::NotAdmitted, "{body}");
    let challenge = outsider
        .post(
            &format!("/api/sales/{}/captcha", sale.id),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(challenge.status(), 403);
    // One unit, a window of one: one shopper is let in, the others wait.
    let mut admitted = None;
    let mut waiting = Vec::new();
    for shopper in &shoppers {
        let standing = shopper.standing_until(sale.id, |s| s.place.is_some()).await;
        if standing.place == Some(1) {
            admitted = Some(shopper);
        } else {
            waiting.push(shopper);
        }
    }
    let admitted = admitted.expect("someone drew place 1");
    let standing = admitted
        .standing_until(sale.id, |s| s.state == QueueState::Admitted)
        .await;
    assert!(standing.admitted_until_ms.unwrap() > server::clock::now_ms() + 100_000);
    for shopper in &waiting {
        let (status, body) = shopper.buy(sale.id).await;
        assert_eq!(
            (status, error_code(&body)),
            (403, ErrorCode::NotAdmitted),
            "{body}"
        );
    }
    assert_eq!(admitted.buy(sale.id).await.0, 202);
}

#[tokio::test]
async fn later_entrants_wait_behind_the_drawn_ones_and_unused_admissions_lapse() {
    let clock = ShiftedClock::default();
    let app = spawn_app_with_clock(|config| config, Arc::new(clock.clone())).await;
    // Three units, a window of one per unit: three shoppers deciding at a time.
    let sale = app.create_sale(&queue_sale_starting_in(1_500, 3, 1)).await;
    let early = app.shoppers("before", 4).await;
    join_all(&early, sale.id).await;
    until_started(sale.starts_at_ms).await;
    let late = app.shoppers("after", 3).await;
    for shopper in &late {
        let joined: QueueStanding = shopper.join(sale.id).await.json().await.unwrap();
        assert_eq!(joined.joined_before_start, Some(false));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let everyone: Vec<&Shopper> = early.iter().chain(&late).collect();
    let first_round = admitted_ids(&everyone, sale.id, 3).await;
    let early_ids: Vec<i64> = early.iter().map(|s| s.user_id).collect();
    assert!(
        first_round.iter().all(|id| early_ids.contains(id)),
        "only drawn places come first: {first_round:?}"
    );
    // Nobody buys: two minutes on, their admissions lapse and the next three
    // come in: the last drawn place, then the first two who came late.
    clock.advance(121_000);
    let second_round = admitted_ids(&everyone, sale.id, 3).await;
    let last_early: Vec<i64> = early_ids
        .iter()
        .copied()
        .filter(|id| !first_round.contains(id))
        .collect();
    let mut expected = vec![last_early[0], late[0].user_id, late[1].user_id];
    expected.sort_unstable();
    assert_eq!(second_round, expected);
    let lapsed = early
        .iter()
        .find(|s| s.user_id == first_round[0])
        .unwrap()
        .standing(sale.id)
        .await;
    assert_eq!(lapsed.state, QueueState::Lapsed);
    let (status, body) = early
        .iter()
        .find(|s| s.user_id == first_round[0])
        .unwrap()
        .buy(sale.id)
        .await;
    assert_eq!((status, error_code(&body)), (403, ErrorCode::NotAdmitted));
    clock.advance(121_000);
    assert_eq!(
        admitted_ids(&everyone, sale.id, 1).await,
        vec![late[2].user_id]
    );
}

/// The ids of the shoppers admitted once `count` of them are (sorted).
async fn admitted_ids(shoppers: &[&Shopper], sale_id: i64, count: usize) -> Vec<i64> {
    for _ in 0..200 {
        let mut admitted = Vec::new();
        for shopper in shoppers {
            if shopper.standing(sale_id).await.state == QueueState::Admitted {
                admitted.push(shopper.user_id);
            }
        }
        if admitted.len() >= count {
            admitted.sort_unstable();
            return admitted;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{count} shoppers were never admitted at once");
}

#[tokio::test]
async fn a_returned_unit_lets_the_next_waitlisted_shopper_in_and_a_paid_one_ends_the_line() {
    let app = spawn_app().await;
    let sale = app.create_sale(&queue_sale_starting_in(1_500, 1, 1)).await;
    let shoppers = app.shoppers("wait", 3).await;
    join_all(&shoppers, sale.id).await;
    until_started(sale.starts_at_ms).await;
    let mut by_place: Vec<(u64, &Shopper)> = Vec::new();
    for shopper in &shoppers {
        let standing = shopper.standing_until(sale.id, |s| s.place.is_some()).await;
        by_place.push((standing.place.unwrap(), shopper));
    }
    by_place.sort_by_key(|(place, _)| *place);
    let (first, second, third) = (by_place[0].1, by_place[1].1, by_place[2].1);
    first
        .standing_until(sale.id, |s| s.state == QueueState::Admitted)
        .await;
    let (status, body) = first.buy(sale.id).await;
    assert_eq!(status, 202, "{body}");
    let order_id = body["order_id"].as_str().unwrap().to_owned();
    // Every unit claimed, one unpaid: the line waits for it.
    let waitlisted = second
        .standing_until(sale.id, |s| s.state == QueueState::Waitlisted)
        .await;
    assert_eq!(waitlisted.may_come_back, 1);
    app.drain(sale.id).await;
    assert_eq!(first.order_action(&order_id, "cancel").await.status(), 200);
    // The unit came back: the next in line is let in, the third still waits.
    second
        .standing_until(sale.id, |s| s.state == QueueState::Admitted)
        .await;
    // (While the returned unit is to be had the line moves again: waiting.)
    assert_eq!(third.standing(sale.id).await.state, QueueState::Waiting);
    let (status, body) = second.buy(sale.id).await;
    assert_eq!(status, 202, "{body}");
    app.drain(sale.id).await;
    let order_id = body["order_id"].as_str().unwrap().to_owned();
    assert_eq!(second.order_action(&order_id, "pay").await.status(), 200);
    // Paid: nothing can come back, and whoever still waits learns it.
    let sold_out = third
        .standing_until(sale.id, |s| s.state == QueueState::SoldOut)
        .await;
    assert_eq!(sold_out.chance, 0.0);
    let late = app.register("too-late").await;
    let refused = late.join(sale.id).await;
    assert_eq!(refused.status(), 410);
    let books = app.books(sale.id).await;
    assert_eq!((books.stock_left, books.drift), (0, 0));
}

/// Joins `shopper` through our proxy, which says it came from `address`.
async fn join_from(shopper: &Shopper, sale_id: i64, address: &str) -> QueueStanding {
    let response = shopper
        .client
        .post(shopper.url(&format!("/api/sales/{sale_id}/queue")))
        .header("x-forwarded-for", address)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("server answers");
    assert_eq!(response.status(), 200, "joining from {address}");
    response.json().await.expect("a standing")
}

#[tokio::test]
async fn the_admin_sees_the_line_live_and_a_fairness_report_of_who_won_by_when_they_joined() {
    let app = spawn_app_with(|mut config| {
        config.trusted_proxies = 1;
        config
    })
    .await;
    let admin = app.admin().await;
    // Two units, one shopper deciding per unit: two let in at a time.
    let sale = app.create_sale(&queue_sale_starting_in(2_500, 2, 1)).await;
    let early = app.shoppers("fair", 6).await;
    // Four accounts from one address, two from addresses of their own.
    let addresses = [
        "203.0.113.7",
        "203.0.113.7",
        "203.0.113.7",
        "203.0.113.7",
        "198.51.100.1",
        "2001:db8:5:6::9",
    ];
    for (shopper, address) in early.iter().zip(addresses) {
        join_from(shopper, sale.id, address).await;
    }
    until_started(sale.starts_at_ms).await;
    let late = app.shoppers("fair-late", 1).await;
    join_from(&late[0], sale.id, "198.51.100.2").await;
    let everyone: Vec<&Shopper> = early.iter().chain(&late).collect();
    let winners = admitted_ids(&everyone, sale.id, 2).await;
    for shopper in everyone.iter().filter(|s| winners.contains(&s.user_id)) {
        assert_eq!(shopper.buy(sale.id).await.0, 202);
    }
    // Both units taken and none unpaid-and-returned: the line sells out or
    // waitlists; either way the leader has counted the two who bought.
    let live: LineLive = loop {
        let live: LineLive = admin
            .get(&format!("/api/admin/sales/{}/line", sale.id))
            .await
            .json()
            .await
            .expect("the line");
        if live.bought == 2 {
            break live;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (live.entrants_before_start, live.entrants_after_start),
        (6, 1)
    );
    assert_eq!(live.stock_left, 0);
    assert!(matches!(
        live.phase,
        LinePhase::Waitlisted | LinePhase::SoldOut
    ));
    assert_eq!(live.waiting, 7 - live.admitted);
    assert_eq!(
        live.admissions.iter().map(|s| s.admitted).sum::<u64>(),
        live.admitted,
        "the pace chart adds up to everyone let in"
    );
    assert_eq!(live.admissions.iter().map(|s| s.bought).sum::<u64>(), 2);

    let report: FairnessReport = admin
        .get(&format!("/api/admin/sales/{}/fairness", sale.id))
        .await
        .json()
        .await
        .expect("the report");
    assert_eq!((report.entrants, report.winners), (7, 2));
    assert_eq!(report.never_bought, report.admitted - 2);
    assert_eq!(report.draw.pre_start_entrants, 6);
    assert_eq!(report.draw.revealed.len(), 64, "the secret is revealed");
    let (before, after): (Vec<&JoinStretch>, Vec<&JoinStretch>) =
        report.by_join_time.iter().partition(|s| s.before_start);
    assert_eq!(before.iter().map(|s| s.entrants).sum::<u64>(), 6);
    assert_eq!(
        before.iter().map(|s| s.winners).sum::<u64>(),
        2,
        "both winners joined before"
    );
    assert_eq!(
        after
            .iter()
            .map(|s| (s.entrants, s.winners))
            .collect::<Vec<_>>(),
        [(1, 0)]
    );
    // Each winner is counted in the stretch of the second it joined.
    for shopper in everyone.iter().filter(|s| winners.contains(&s.user_id)) {
        let joined = shopper.standing(sale.id).await.joined_at_ms.unwrap();
        let stretch = before
            .iter()
            .find(|s| s.from_ms <= joined && joined < s.to_ms)
            .expect("a stretch holds the join");
        assert!(stretch.winners >= 1, "{stretch:?}");
    }
    let top: Vec<(&str, u64)> = report
        .top_addresses
        .iter()
        .map(|row| (row.address.as_str(), row.entrants))
        .collect();
    assert_eq!(top[0], ("203.0.113.7", 4));
    assert!(
        top.contains(&("2001:db8:5:6::/64", 1)),
        "IPv6 by its /64: {top:?}"
    );
    assert_eq!(top.iter().map(|row| row.1).sum::<u64>(), 7);

    // A shopper may not look; a race sale has no line.
    assert_eq!(
        early[0]
            .get(&format!("/api/admin/sales/{}/fairness", sale.id))
            .await
            .status(),
        403
    );
    let race = app.create_sale(&sale_starting_in(60_000, 1)).await;
    assert_eq!(
        admin
            .get(&format!("/api/admin/sales/{}/line", race.id))
            .await
            .status(),
        404
    );
}

/// The bytes of a hex string.
fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex"))
        .collect()
}
