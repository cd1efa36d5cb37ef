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

/// The piece's place and the path it took, and what moves it.
#[derive(Clone, Copy)]
struct Slider {
    /// The picture's width and the farthest the piece can go, in its pixels.
    width: f64,
    most: f64,
    piece_x: RwSignal<f64>,
    path: StoredValue<DragPath>,
    started_at: StoredValue<Option<f64>>,
    grab: StoredValue<Option<Grab>>,
    answered: StoredValue<bool>,
    /// The picture as shown, to scale page pixels to picture pixels.
    frame: NodeRef<html::Div>,
    on_answer: Callback<String>,
}

impl Slider {
    fn new(puzzle: &Puzzle, on_answer: Callback<String>) -> Self {
        Self {
            width: f64::from(puzzle.width),
            most: f64::from(puzzle.width.saturating_sub(puzzle.piece_width)),
            piece_x: RwSignal::new(0.0),
            path: StoredValue::new(DragPath::new()),
            started_at: StoredValue::new(None),
            grab: StoredValue::new(None),
            answered: StoredValue::new(false),
            frame: NodeRef::new(),
            on_answer,
        }
    }

    /// Every position the piece takes, with its time since the first touch.
    fn record(self, event_ms: f64, x: f64) {
        let start = self.started_at.get_value().unwrap_or(event_ms);
        self.started_at.set_value(Some(start));
        self.piece_x.set(x);
        self.path
            .update_value(|path| path.record((event_ms - start).max(0.0) as u32, x));
    }

    /// Hands the path over, once.
    fn answer(self) {
        if !self.answered.get_value() && self.started_at.get_value().is_some() {
            self.answered.set_value(true);
            self.on_answer.run(self.path.with_value(DragPath::encode));
        }
    }

    fn press(self, event: leptos::ev::PointerEvent) {
        if self.answered.get_value() {
            return;
        }
        event.prevent_default();
        client::capture_pointer(&event);
        let from = self.piece_x.get_untracked();
        self.grab.set_value(Some(Grab {
            client_x: f64::from(event.client_x()),
            piece_x: from,
        }));
        self.record(event.time_stamp(), from);
    }

    fn drag(self, event: leptos::ev::PointerEvent) {
        let Some(grabbed) = self.grab.get_value() else {
            return;
        };
        // Page pixels to picture pixels: the picture is scaled to fit the page.
        let shown = client::element_width(self.frame).filter(|shown| *shown > 0.0);
        let scale = shown.map_or(1.0, |shown| self.width / shown);
        for (at, client_x) in client::pointer_moves(&event) {
            let moved = (client_x - grabbed.client_x) * scale;
            self.record(at, (grabbed.piece_x + moved).clamp(0.0, self.most));
        }
    }

    /// Back to the start, the challenge still unanswered: a press that never
    /// moved the piece, or a drag the browser took over (a scroll, a call).
    fn reset(self) {
        self.grab.set_value(None);
        self.started_at.set_value(None);
        self.path.set_value(DragPath::new());
        self.piece_x.set(0.0);
    }

    fn release(self) {
        if self.grab.get_value().is_none() {
            return;
        }
        self.grab.set_value(None);
        if self.piece_x.get_untracked() < MIN_TRAVEL_PX {
            self.reset();
        } else {
            self.answer();
        }
    }

    /// Arrow keys move the piece (Shift: farther), Enter or Space let go.
    fn key(self, event: leptos::ev::KeyboardEvent) {
        if self.answered.get_value() {
            return;
        }
        let step = if event.shift_key() {
            KEY_STEP_FAST_PX
        } else {
            KEY_STEP_PX
        };
        let at = self.piece_x.get_untracked();
        let to = match event.key().as_str() {
            "ArrowRight" | "ArrowUp" => at + step,
            "ArrowLeft" | "ArrowDown" => at - step,
            "Enter" | " " => {
                event.prevent_default();
                self.answer();
                return;
            }
            _ => return,
        };
        event.prevent_default();
        if self.started_at.get_value().is_none() {
            self.record(event.time_stamp(), at);
        }
        self.record(event.time_stamp(), to.clamp(0.0, self.most));
    }

    /// How far along the track the handle sits, in CSS.
    fn handle_style(self) -> String {
        let along = if self.most > 0.0 {
            self.piece_x.get() / self.most
        } else {
            0.0
        };
        format!(
            "left: calc((100% - 3rem) * {} / 10000)",
            (along * 10_000.0).round() as i64
        )
    }
}

/// The puzzle; `on_answer` gets the drag path once the piece is let go,
/// `on_instead` runs when the shopper asks for the alternative; `missed` says
/// why the previous puzzle's answer was refused.
#[component]
pub fn SlidePuzzle(
    picture: String,
    puzzle: Puzzle,
    missed: Option<String>,
    on_answer: Callback<String>,
    on_instead: Callback<()>,
) -> impl IntoView {
    let slider = Slider::new(&puzzle, on_answer);
    // The buy button went quiet when the puzzle appeared: the keyboard moves on
    // to the piece's handle, so a keyboard user can slide at once.
    let handle = NodeRef::<html::Div>::new();
    Effect::new(move |_| {
        if let Some(handle) = handle.get() {
            let _ = handle.focus();
        }
    });
    let piece_style = {
        let top = percent(f64::from(puzzle.piece_top), f64::from(puzzle.height));
        let size = percent(f64::from(puzzle.piece_width), slider.width);
        move || {
            format!(
                "left: {}; top: {top}; width: {size}",
                percent(slider.piece_x.get(), slider.width)
            )
        }
    };

    view! {
        <div class="slide-puzzle" role="group" aria-labelledby="slide-puzzle-hint">
            {missed.map(|reason| view! { <p class="slide-missed">{reason}</p> })}
            <p id="slide-puzzle-hint" class="slide-puzzle-hint">
                "Slide the piece into the gap, then let go. Keyboard: arrow keys, then Enter."
            </p>
            <div class="slide-picture" node_ref=slider.frame>
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
                    on:pointerdown=move |event| slider.press(event)
                    on:pointermove=move |event| slider.drag(event)
                    on:pointerup=move |_| slider.release()
                    on:pointercancel=move |_| slider.reset()
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
                    aria-valuemax=(slider.most.round() as i64).to_string()
                    aria-valuenow=move || (slider.piece_x.get().round() as i64).to_string()
                    style=move || slider.handle_style()
                    on:pointerdown=move |event| slider.press(event)
                    on:pointermove=move |event| slider.drag(event)
                    on:pointerup=move |_| slider.release()
                    on:pointercancel=move |_| slider.reset()
                    on:keydown=move |event| slider.key(event)
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
