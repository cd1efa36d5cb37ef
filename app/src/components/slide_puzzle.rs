//! The sliding-puzzle CAPTCHA as a shopper meets it: a picture with a gap and a
//! piece to move into it — by dragging the piece or the handle under it (mouse,
//! pen or finger), or with the arrow keys on the handle — then let go (or press
//! Enter). Every move is recorded with its time; the path is the answer the
//! server judges ([`crate::slide`]). Who cannot do this asks for a proof of
//! work instead.

use leptos::html;
use leptos::prelude::*;

use crate::api::SlidePuzzle as Puzzle;
use crate::client;
use crate::slide::{DragPath, KEY_STEP_FAST_PX, KEY_STEP_PX};

/// A release closer than this to the start is a slip, not an answer.
const MIN_TRAVEL_PX: f64 = 5.0;

/// Where a drag began: the pointer's page position and the piece's.
#[derive(Clone, Copy)]
struct Grab {
    client_x: f64,
    piece_x: f64,
}

/// The puzzle; `on_answer` gets the drag path once the piece is let go,
/// `on_instead` runs when the shopper asks for the alternative.
#[component]
pub fn SlidePuzzle(
    picture: String,
    puzzle: Puzzle,
    on_answer: Callback<String>,
    on_instead: Callback<()>,
) -> impl IntoView {
    let width = f64::from(puzzle.width);
    let most = f64::from(puzzle.width.saturating_sub(puzzle.piece_width));
    let piece_x = RwSignal::new(0.0_f64);
    let path = StoredValue::new(DragPath::new());
    let started_at = StoredValue::new(None::<f64>);
    let grab = StoredValue::new(None::<Grab>);
    let answered = StoredValue::new(false);
    let frame = NodeRef::<html::Div>::new();
    // The buy button went quiet when the puzzle appeared: the keyboard moves on
    // to the piece's handle, so a keyboard user can slide at once.
    let handle = NodeRef::<html::Div>::new();
    Effect::new(move |_| {
        if let Some(handle) = handle.get() {
            let _ = handle.focus();
        }
    });

    // Every position the piece takes, with its time since the first touch.
    let record = move |event_ms: f64, x: f64| {
        let start = started_at.get_value().unwrap_or(event_ms);
        started_at.set_value(Some(start));
        piece_x.set(x);
        path.update_value(|path| path.record((event_ms - start).max(0.0) as u32, x));
    };
    let answer = move || {
        if !answered.get_value() && started_at.get_value().is_some() {
            answered.set_value(true);
            on_answer.run(path.with_value(DragPath::encode));
        }
    };
    let press = move |event: leptos::ev::PointerEvent| {
        if answered.get_value() {
            return;
        }
        event.prevent_default();
        client::capture_pointer(&event);
        let from = piece_x.get_untracked();
        grab.set_value(Some(Grab {
            client_x: f64::from(event.client_x()),
            piece_x: from,
        }));
        record(event.time_stamp(), from);
    };
    let drag = move |event: leptos::ev::PointerEvent| {
        let Some(grabbed) = grab.get_value() else {
            return;
        };
        // Page pixels to picture pixels: the picture is scaled to fit the page.
        let shown = client::element_width(frame).filter(|shown| *shown > 0.0);
        let scale = shown.map_or(1.0, |shown| width / shown);
        for (at, client_x) in client::pointer_moves(&event) {
            let moved = (client_x - grabbed.client_x) * scale;
            record(at, (grabbed.piece_x + moved).clamp(0.0, most));
        }
    };
    // Back to the start, the challenge still unanswered: a press that never
    // moved the piece, or a drag the browser took over (a scroll, a call).
    let reset = move || {
        grab.set_value(None);
        started_at.set_value(None);
        path.set_value(DragPath::new());
        piece_x.set(0.0);
    };
    let release = move |_: leptos::ev::PointerEvent| {
        if grab.get_value().is_none() {
            return;
        }
        grab.set_value(None);
        if piece_x.get_untracked() < MIN_TRAVEL_PX {
            reset();
        } else {
            answer();
        }
    };
    let cancel = move |_: leptos::ev::PointerEvent| reset();
    let key = move |event: leptos::ev::KeyboardEvent| {
        if answered.get_value() {
            return;
        }
        let step = if event.shift_key() {
            KEY_STEP_FAST_PX
        } else {
            KEY_STEP_PX
        };
        let to = match event.key().as_str() {
            "ArrowRight" | "ArrowUp" => piece_x.get_untracked() + step,
            "ArrowLeft" | "ArrowDown" => piece_x.get_untracked() - step,
            "Enter" | " " => {
                event.prevent_default();
                answer();
                return;
            }
            _ => return,
        };
        event.prevent_default();
        if started_at.get_value().is_none() {
            record(event.time_stamp(), piece_x.get_untracked());
        }
        record(event.time_stamp(), to.clamp(0.0, most));
    };

    let piece_style = {
        let top = percent(f64::from(puzzle.piece_top), f64::from(puzzle.height));
        let size = percent(f64::from(puzzle.piece_width), width);
        move || {
            format!(
                "left: {}; top: {top}; width: {size}",
                percent(piece_x.get(), width)
            )
        }
    };
    let handle_style = move || {
        let along = if most > 0.0 {
            piece_x.get() / most
        } else {
            0.0
        };
        format!(
            "left: calc((100% - 3rem) * {} / 10000)",
            (along * 10_000.0).round() as i64
        )
    };

    view! {
        <div class="slide-puzzle" role="group" aria-labelledby="slide-puzzle-hint">
            <p id="slide-puzzle-hint" class="slide-puzzle-hint">
                "Slide the piece into the gap, then let go. Keyboard: arrow keys, then Enter."
            </p>
            <div class="slide-picture" node_ref=frame>
                <img
                    src=picture
                    alt="A landscape with a piece-shaped gap"
                    width=puzzle.width
                    height=puzzle.height
                    draggable="false"
                />
                <img
                    class="slide-piece"
                    src=puzzle.piece
                    alt=""
                    draggable="false"
                    style=piece_style
                    on:pointerdown=press
                    on:pointermove=drag
                    on:pointerup=release
                    on:pointercancel=cancel
                />
            </div>
            <div class="slide-track">
                <div
                    node_ref=handle
                    class="slide-handle"
                    role="slider"
                    tabindex="0"
                    aria-label="Piece position"
                    aria-valuemin="0"
                    aria-valuemax=(most.round() as i64).to_string()
                    aria-valuenow=move || (piece_x.get().round() as i64).to_string()
                    style=handle_style
                    on:pointerdown=press
                    on:pointermove=drag
                    on:pointerup=release
                    on:pointercancel=cancel
                    on:keydown=key
                >
                    "⇆"
                </div>
            </div>
            <button type="button" class="link-button" on:click=move |_| on_instead.run(())>
                "Can't drag? Let your device solve a check instead (a few seconds)"
            </button>
        </div>
    }
}

/// `part` as a CSS percentage of `whole`, to a hundredth, written with
/// integers (float formatting would weigh tens of kilobytes in the WASM).
fn percent(part: f64, whole: f64) -> String {
    let hundredths = (part / whole * 10_000.0).round() as i64;
    format!("{}.{:02}%", hundredths / 100, hundredths % 100)
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn positions_are_percentages_of_the_picture() {
        assert_eq!(percent(150.0, 300.0), "50.00%");
        assert_eq!(percent(49.0, 300.0), "16.33%");
        assert_eq!(percent(0.0, 300.0), "0.00%");
    }
}
