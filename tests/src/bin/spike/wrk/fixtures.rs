//! What the rows send: one sale per situation (sold out, live, limit reached,
//! plenty of stock), buy tickets signed with the server's secret, the sale
//! page's ETag, the bare handler beside our server; and the plan that turns
//! them into rows — a name, an address, request lines and the one answer.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use app::api::Sale;
use server::guards::tickets::TicketSigner;
use server::secret::Secret;
use systests::private_servers::free_port;
use tokio::process::{Child, Command};

use super::FRESH_REQUESTS;
use crate::args::Options;
use crate::rig::Rig;

/// One row to measure.
pub(super) struct Planned {
    pub(super) name: &'static str,
    /// Where the requests go.
    pub(super) url: String,
    /// `METHOD PATH [COOKIE [IF-NONE-MATCH]]`, as `wrk.lua` reads them.
    pub(super) requests: Vec<String>,
    /// What every request of the row answers.
    pub(super) expected: u16,
}

/// The sales and the signer the rows' requests are made of.
pub(super) struct Fixtures<'a> {
    rig: &'a Rig,
    signer: TicketSigner,
    expires: i64,
    sold_out: Sale,
    live: Sale,
    limited: Sale,
    /// The sale the winning buys go to; its books are checked at the end.
    pub(super) plenty: Sale,
    /// The live sale page's ETag, for the 304 row.
    etag: String,
    /// A queue sale whose line is open (it starts in an hour).
    queue: Sale,
    /// Each shopper's cookies once in that line: session and entry.
    in_line: Vec<String>,
}

impl<'a> Fixtures<'a> {
    /// Creates the sales, waits for their start, sells the sold-out sale's
    /// one unit and gives the first shopper the limited sale's one unit.
    pub(super) async fn prepare(rig: &'a Rig, base: &Options) -> Result<Self, String> {
        let sale = |stock: i32, limit: i32, round: usize| {
            let options = Options {
                stock,
                limit,
                ..base.clone()
            };
            async move { rig.create_sale(&options, round).await }
        };
        let sold_out = sale(1, 1, 1).await?;
        let live = sale(1_000_000, 1, 2).await?;
        let limited = sale(1_000_000, 1, 3).await?;
        let plenty = sale(10_000_000, 1_000_000, 4).await?;
        let queue = rig
            .create_sale(
                &Options {
                    stock: 100,
                    lead_secs: 3_600.0,
                    admission: app::api::AdmissionMode::Queue,
                    ..base.clone()
                },
                5,
            )
            .await?;
        let in_line = join_line(rig, &queue).await?;
        tokio::time::sleep(Duration::from_millis(
            (plenty.starts_at_ms - server::clock::now_ms()).max(0) as u64 + 100,
        ))
        .await;
        let etag = sale_page_etag(rig, &live).await?;
        let fixtures = Self {
            rig,
            signer: TicketSigner::new(Secret::new(rig.server_env.secret.clone().into_bytes())),
            expires: server::clock::now_ms() + 3_600_000,
            sold_out,
            live,
            limited,
            plenty,
            etag,
            queue,
            in_line,
        };
        let shopper = &rig.shoppers[0];
        for sale in [&fixtures.sold_out, &fixtures.limited] {
            let path = fixtures.buy_path(sale, shopper.user_id, 0);
            let status = send(rig, &path, &shopper.cookie).await?;
            if status != 202 {
                return Err(format!(
                    "setting up sale {}: the first buy answered {status}",
                    sale.id
                ));
            }
        }
        Ok(fixtures)
    }

    /// The rows: the bare handler first (the ceiling), then our server's.
    pub(super) fn plan(&self, bare_url: &str) -> Vec<Planned> {
        let base_url = &self.rig.base_url;
        let ours = |name: &'static str, requests: Vec<String>, expected: u16| Planned {
            name,
            url: base_url.clone(),
            requests,
            expected,
        };
        let (live, etag) = (self.live.id, &self.etag);
        // The sold-out row is another shopper's: the first shopper's ticket
        // would find the order it already has.
        let latecomer = &self.rig.shoppers[1];
        let too_late = self.buy_path(&self.sold_out, latecomer.user_id, 0);
        vec![
            Planned {
                name: "bare axum handler",
                url: bare_url.to_owned(),
                requests: vec!["GET /".into()],
                expected: 200,
            },
            ours("GET /healthz", vec!["GET /healthz".into()], 200),
            ours(
                "buy, sold out (local flag)",
                vec![format!(
                    "POST {too_late} {}",
                    latecomer.cookie.replace(' ', "")
                )],
                410,
            ),
            ours(
                "GET /api/sales/{id}/status",
                vec![format!("GET /api/sales/{live}/status")],
                200,
            ),
            ours(
                "GET /sales/{id} (200)",
                vec![format!("GET /sales/{live}")],
                200,
            ),
            ours(
                "GET /sales/{id} (304)",
                vec![format!("GET /sales/{live} - {etag}")],
                304,
            ),
            ours(
                "buy, limit reached",
                self.fresh_buys(&self.limited, false),
                409,
            ),
            ours("buy, winning", self.fresh_buys(&self.plenty, true), 202),
            ours(
                "GET /api/sales/{id}/queue (poll, entry cookie)",
                self.in_line
                    .iter()
                    .map(|cookie| format!("GET /api/sales/{}/queue {cookie}", self.queue.id))
                    .collect(),
                200,
            ),
            ours(
                "POST /api/sales/{id}/queue (join again, no entry cookie)",
                self.rig
                    .shoppers
                    .iter()
                    .map(|shopper| {
                        format!(
                            "POST /api/sales/{}/queue {}",
                            self.queue.id,
                            shopper.cookie.replace(' ', "")
                        )
                    })
                    .collect(),
                200,
            ),
        ]
    }

    /// A ticket is its sale, buyer and expiry signed: each `n` makes another.
    fn buy_path(&self, sale: &Sale, user_id: i64, n: usize) -> String {
        let ticket = self.signer.issue(sale.id, user_id, self.expires + n as i64);
        format!("/api/sales/{}/buy/{ticket}", sale.id)
    }

    /// A fresh ticket per request: the first shopper's, or every shopper's
    /// in turn.
    fn fresh_buys(&self, sale: &Sale, cycle_shoppers: bool) -> Vec<String> {
        let shoppers = &self.rig.shoppers;
        (0..FRESH_REQUESTS)
            .map(|n| {
                let buyer = &shoppers[if cycle_shoppers {
                    n % shoppers.len()
                } else {
                    0
                }];
                format!(
                    "POST {} {}",
                    self.buy_path(sale, buyer.user_id, n + 1),
                    buyer.cookie.replace(' ', "")
                )
            })
            .collect()
    }
}

/// Starts the bare axum handler on a free port: the process and its address.
pub(super) async fn start_bare(rig: &Rig, bare: &Path) -> Result<(Child, String), String> {
    let port = free_port()?;
    let child = Command::new(bare)
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| {
            format!(
                "cannot start {} (cargo build --release -p systests --bin bare): {error}",
                bare.display()
            )
        })?;
    let url = format!("http://127.0.0.1:{port}");
    crate::process::wait_until_ready(&rig.client, &format!("{url}/"), Path::new("/dev/null"))
        .await?;
    Ok((child, url))
}

/// Every shopper joins the line of `sale`: their session cookie with the
/// entry cookie the join set, as one `Cookie` value without spaces.
async fn join_line(rig: &Rig, sale: &Sale) -> Result<Vec<String>, String> {
    let mut cookies = Vec::new();
    for shopper in &rig.shoppers {
        let response = rig
            .client
            .post(rig.url(&format!("/api/sales/{}/queue", sale.id)))
            .header("cookie", &shopper.cookie)
            .header("origin", &rig.base_url)
            .send()
            .await
            .map_err(|error| error.to_string())?;
        if response.status() != 200 {
            return Err(format!("joining the line answered {}", response.status()));
        }
        let entry = response
            .headers()
            .get("set-cookie")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .ok_or("joining the line set no entry cookie")?
            .to_owned();
        cookies.push(format!("{};{entry}", shopper.cookie.replace(' ', "")));
    }
    Ok(cookies)
}

async fn sale_page_etag(rig: &Rig, sale: &Sale) -> Result<String, String> {
    let page = rig
        .client
        .get(rig.url(&format!("/sales/{}", sale.id)))
        .send()
        .await
        .map_err(|error| error.to_string())?;
    Ok(page
        .headers()
        .get("etag")
        .and_then(|value| value.to_str().ok())
        .ok_or("the sale page has no ETag")?
        .to_owned())
}

/// A buy as the shopper's browser sends it: its status.
async fn send(rig: &Rig, path: &str, cookie: &str) -> Result<u16, String> {
    let response = rig
        .client
        .post(rig.url(path))
        .header("cookie", cookie)
        .header("origin", &rig.base_url)
        .json(&serde_json::json!({}))
        .send()
        .await
        .map_err(|error| error.to_string())?;
    Ok(response.status().as_u16())
}
