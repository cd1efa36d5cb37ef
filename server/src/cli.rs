//! Command-line tasks of the server binary, run instead of serving:
//!
//! ```text
//! server create-admin <username>            # password from FLASHSALE_ADMIN_PASSWORD or stdin
//! server create-users <count> [--prefix shopper] [--password <text>]
//! server end-sessions <username>            # logs the user out everywhere
//! ```
//!
//! `create-users` makes load-test shoppers `<prefix>1..=<prefix><count>` sharing
//! one password, hashed once, so ten thousand take a second, not ten minutes.

use sqlx::postgres::PgPoolOptions;

use crate::accounts::credentials::{Password, Username};
use crate::accounts::sessions::SessionStore;
use crate::accounts::users::{Accounts, RegisterError};
use crate::config::Config;
use crate::keys::RedisKeys;
use crate::redis_connection::RedisClient;

/// A task the binary was asked to run.
#[derive(Debug, PartialEq, Eq)]
pub enum Task {
    CreateAdmin {
        username: String,
    },
    CreateUsers {
        count: u32,
        prefix: String,
        password: String,
    },
    EndSessions {
        username: String,
    },
}

/// Parses the arguments after the program name; `Ok(None)` means "serve".
pub fn parse(args: &[String]) -> Result<Option<Task>, String> {
    let usage = "usage: server [--demo] | server create-admin <username> | \
                 server create-users <count> [--prefix <p>] [--password <pw>] | \
                 server end-sessions <username>";
    match args.first().map(String::as_str) {
        None | Some("--demo") | Some("serve") => Ok(None),
        Some("create-admin") => match args.get(1) {
            Some(username) if args.len() == 2 => Ok(Some(Task::CreateAdmin {
                username: username.clone(),
            })),
            _ => Err(usage.into()),
        },
        Some("end-sessions") => match args.get(1) {
            Some(username) if args.len() == 2 => Ok(Some(Task::EndSessions {
                username: username.clone(),
            })),
            _ => Err(usage.into()),
        },
        Some("create-users") => {
            let count = args
                .get(1)
                .and_then(|count| count.parse().ok())
                .filter(|count| *count > 0)
                .ok_or_else(|| usage.to_owned())?;
            let mut prefix = "shopper".to_owned();
            let mut password = "shopper-password".to_owned();
            let mut rest = args[2..].iter();
            while let Some(flag) = rest.next() {
                let value = rest.next().ok_or_else(|| usage.to_owned())?;
                match flag.as_str() {
                    "--prefix" => prefix = value.clone(),
                    "--password" => password = value.clone(),
                    _ => return Err(usage.into()),
                }
            }
            Ok(Some(Task::CreateUsers {
                count,
                prefix,
                password,
            }))
        }
        Some(_) => Err(usage.into()),
    }
}

/// Runs a task against the configured database.
pub async fn run(task: Task, config: &Config) -> Result<String, String> {
    let db = PgPoolOptions::new()
        .max_connections(2)
        .connect(config.database_url.expose())
        .await
        .map_err(|error| format!("cannot reach Postgres: {error}"))?;
    sqlx::migrate!("../migrations")
        .run(&db)
        .await
        .map_err(|error| format!("cannot migrate: {error}"))?;
    let accounts = Accounts::new(db);
    match task {
        Task::CreateAdmin { username } => {
            let username = Username::parse(&username)?;
            let password = match std::env::var("FLASHSALE_ADMIN_PASSWORD") {
                Ok(password) => password,
                Err(_) => {
                    eprintln!("password for {}:", username.as_str());
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|error| format!("cannot read the password: {error}"))?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let user = accounts
                .upsert_admin(&username, Password::parse(&password)?)
                .await
                .map_err(|error| match error {
                    RegisterError::Taken => format!(
                        "`{}` is a shopper's account: an admin gets a name of its own",
                        username.as_str()
                    ),
                    RegisterError::Store(error) => crate::store::error_chain(&error),
                })?;
            Ok(format!(
                "admin `{}` is ready (user id {})",
                user.username, user.id
            ))
        }
        Task::CreateUsers {
            count,
            prefix,
            password,
        } => {
            Username::parse(&format!("{prefix}{count}"))?;
            let created = accounts
                .bulk_create(&prefix, count, Password::parse(&password)?)
                .await
                .map_err(|error| crate::store::error_chain(&error))?;
            Ok(format!(
                "created {created} of {count} shoppers named {prefix}1..{prefix}{count}"
            ))
        }
        Task::EndSessions { username } => {
            let user = accounts
                .find(&username)
                .await
                .map_err(|error| crate::store::error_chain(&error))?
                .ok_or_else(|| format!("no user is named `{username}`"))?;
            let sessions = sessions(config)?;
            let ended = sessions
                .end_all(user.id)
                .await
                .map_err(|error| crate::store::error_chain(&error))?;
            Ok(format!("ended {ended} session(s) of `{username}`"))
        }
    }
}

/// The session store of the configured Redis.
fn sessions(config: &Config) -> Result<SessionStore, String> {
    let redis = RedisClient::open(&config.redis)
        .and_then(|client| client.shared())
        .map_err(|error| format!("cannot reach Redis: {error}"))?;
    Ok(SessionStore::new(
        redis,
        RedisKeys::new(config.redis_prefix.clone()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn no_task_means_serve() {
        assert_eq!(parse(&[]), Ok(None));
        assert_eq!(parse(&args("--demo")), Ok(None));
    }

    #[test]
    fn parses_the_tasks_and_refuses_nonsense() {
        assert_eq!(
            parse(&args("create-admin root")),
            Ok(Some(Task::CreateAdmin {
                username: "root".into()
            }))
        );
        assert_eq!(
            parse(&args("create-users 500 --prefix lt --password secret123")),
            Ok(Some(Task::CreateUsers {
                count: 500,
                prefix: "lt".into(),
                password: "secret123".into()
            }))
        );
        assert!(parse(&args("create-users 0")).is_err());
        assert!(parse(&args("create-users ten")).is_err());
        assert!(parse(&args("create-users 5 --prefix")).is_err());
        assert!(parse(&args("create-admin")).is_err());
        assert!(parse(&args("drop-tables")).is_err());
    }
}
