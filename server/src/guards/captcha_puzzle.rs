//! The pictures of an `image` CAPTCHA: a small landscape with a piece-shaped gap
//! cut into it, and the piece, both PNG. The shopper slides the piece into the
//! gap; where the gap is stays on the server (the answer is judged by
//! [`app::slide`]). Pixels, not vector shapes, so the gap cannot be read out of
//! the markup. Rendering costs a few milliseconds of CPU (measured by the
//! `rendering_stays_within_a_few_milliseconds` test's report), so callers run
//! it on the blocking pool.

/// The picture's size in pixels.
pub(crate) const WIDTH: u32 = 300;
pub(crate) const HEIGHT: u32 = 150;
/// The piece: a square with a round knob on its right and top sides.
const SIDE: f64 = 40.0;
const KNOB: f64 = 7.0;
/// The piece picture is the square, its knobs and a pixel of margin.
pub(crate) const PIECE_SIZE: u32 = (SIDE + KNOB + 2.0) as u32;
/// The gap starts at least this far from the left, so every answer is a real drag.
const MIN_GAP_X: u32 = 60;

/// One rendered challenge.
pub(crate) struct Puzzle {
    /// PNG, [`WIDTH`]×[`HEIGHT`], the gap darkened and outlined.
    pub picture: Vec<u8>,
    /// PNG with transparency, [`PIECE_SIZE`] square.
    pub piece: Vec<u8>,
    /// Where the piece's left edge fits (the answer).
    pub gap_x: u32,
    /// Where the piece's top edge is, in the picture and while sliding.
    pub piece_top: u32,
}

/// A small fast generator (xorshift64*), seeded from the OS: the pictures need
/// variety, not cryptographic strength.
struct Jitter(u64);

impl Jitter {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `[low, high)`.
    fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (high - low)
    }
}

type Rgb = [f64; 3];

/// A colour from hue (degrees), saturation and lightness (0–1).
fn hsl(hue: f64, saturation: f64, lightness: f64) -> Rgb {
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let h = hue.rem_euclid(360.0) / 60.0;
    let x = chroma * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = lightness - chroma / 2.0;
    [(r + m) * 255.0, (g + m) * 255.0, (b + m) * 255.0]
}

fn mix(a: Rgb, b: Rgb, share_of_b: f64) -> Rgb {
    let t = share_of_b.clamp(0.0, 1.0);
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// A rolling skyline: the height of a hill at `x`.
struct Hill {
    base: f64,
    waves: [(f64, f64, f64); 2],
    colour: Rgb,
}

impl Hill {
    fn top(&self, x: f64) -> f64 {
        self.base
            + self
                .waves
                .iter()
                .map(|(amplitude, frequency, phase)| amplitude * (frequency * x + phase).sin())
                .sum::<f64>()
    }
}

/// The landscape: a sky, a sun, three hills and scattered bushes.
fn landscape(jitter: &mut Jitter) -> Vec<Rgb> {
    let hue = jitter.between(0.0, 360.0);
    let sky_top = hsl(hue + 200.0, 0.55, 0.55);
    let sky_bottom = hsl(hue + 180.0, 0.45, 0.85);
    let sun = (
        jitter.between(20.0, f64::from(WIDTH) - 20.0),
        jitter.between(15.0, 50.0),
        jitter.between(12.0, 20.0),
    );
    let sun_colour = hsl(hue + 40.0, 0.9, 0.65);
    let hills: Vec<Hill> = (0..3)
        .map(|layer| {
            let layer = f64::from(layer);
            Hill {
                base: 55.0 + layer * 28.0 + jitter.between(-8.0, 8.0),
                waves: [
                    (
                        jitter.between(6.0, 16.0),
                        jitter.between(0.01, 0.03),
                        jitter.between(0.0, 6.3),
                    ),
                    (
                        jitter.between(2.0, 6.0),
                        jitter.between(0.04, 0.09),
                        jitter.between(0.0, 6.3),
                    ),
                ],
                colour: hsl(hue + 90.0 + layer * 25.0, 0.45, 0.55 - layer * 0.12),
            }
        })
        .collect();
    let bushes: Vec<(f64, f64, f64, Rgb)> = (0..14)
        .map(|_| {
            let x = jitter.between(0.0, f64::from(WIDTH));
            let layer = &hills[(jitter.next() % 3) as usize];
            let radius = jitter.between(4.0, 11.0);
            let colour = hsl(
                hue + jitter.between(60.0, 160.0),
                0.5,
                jitter.between(0.25, 0.5),
            );
            (x, layer.top(x) + radius * 0.5, radius, colour)
        })
        .collect();

    // The hills' skylines depend on x only: computed once per column.
    let skylines: Vec<[f64; 3]> = (0..WIDTH)
        .map(|x| {
            let fx = f64::from(x) + 0.5;
            [hills[0].top(fx), hills[1].top(fx), hills[2].top(fx)]
        })
        .collect();
    let mut pixels = Vec::with_capacity((WIDTH * HEIGHT) as usize);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let (fx, fy) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
            let mut colour = mix(sky_top, sky_bottom, fy / f64::from(HEIGHT));
            let to_sun = ((fx - sun.0).powi(2) + (fy - sun.1).powi(2)).sqrt();
            colour = mix(colour, sun_colour, sun.2 + 0.5 - to_sun);
            for (hill, top) in hills.iter().zip(skylines[x as usize]) {
                colour = mix(colour, hill.colour, fy - top + 0.5);
            }
            for (bx, by, radius, bush) in &bushes {
                if (fx - bx).abs() > radius + 1.0 || (fy - by).abs() > radius + 1.0 {
                    continue;
                }
                let distance = ((fx - bx).powi(2) + (fy - by).powi(2)).sqrt();
                colour = mix(colour, *bush, radius + 0.5 - distance);
            }
            pixels.push(colour);
        }
    }
    pixels
}

/// How much of the pixel at (`x`, `y`) of the piece picture the piece covers
/// (0–1, sampled 4×4), with the shape grown by `grow` pixels (negative shrinks).
fn coverage(x: u32, y: u32, grow: f64) -> f64 {
    let inside = |px: f64, py: f64| {
        let top = 1.0 + KNOB;
        let square = px >= 1.0 - grow
            && px <= 1.0 + SIDE + grow
            && py >= top - grow
            && py <= top + SIDE + grow;
        let knob =
            |cx: f64, cy: f64| (px - cx).powi(2) + (py - cy).powi(2) <= (KNOB + grow).powi(2);
        square || knob(1.0 + SIDE, top + SIDE / 2.0) || knob(1.0 + SIDE / 2.0, top)
    };
    let mut hits = 0;
    for sy in 0..4 {
        for sx in 0..4 {
            let px = f64::from(x) + (f64::from(sx) + 0.5) / 4.0;
            let py = f64::from(y) + (f64::from(sy) + 0.5) / 4.0;
            if inside(px, py) {
                hits += 1;
            }
        }
    }
    f64::from(hits) / 16.0
}

fn encode_png(width: u32, height: u32, colour: png::ColorType, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(colour);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .expect("a PNG header always writes into memory");
    writer
        .write_image_data(data)
        .expect("the buffer holds exactly width × height pixels");
    writer.finish().expect("a PNG always finishes into memory");
    out
}

fn channel(value: f64) -> u8 {
    value.round().clamp(0.0, 255.0) as u8
}

/// The gap's fill: dark, mottled by three slanted waves a few to a piece's
/// width, unrelated to the scene beneath.
struct Shadow {
    waves: [(f64, f64, f64, f64); 3],
    tint: Rgb,
}

impl Shadow {
    fn new(jitter: &mut Jitter) -> Self {
        let mut wave = |amplitude: f64| {
            let (angle, frequency) = (jitter.between(0.0, 6.3), jitter.between(0.08, 0.25));
            (
                amplitude,
                frequency * angle.cos(),
                frequency * angle.sin(),
                jitter.between(0.0, 6.3),
            )
        };
        let waves = [wave(36.0), wave(22.0), wave(14.0)];
        let tint = [
            jitter.between(0.9, 1.1),
            jitter.between(0.9, 1.1),
            jitter.between(0.9, 1.1),
        ];
        Self { waves, tint }
    }

    /// The shadow's colour at (`x`, `y`) of the piece, plus `grain`.
    fn at(&self, x: f64, y: f64, grain: f64) -> Rgb {
        let level = 70.0
            + grain
            + self
                .waves
                .iter()
                .map(|(amplitude, fx, fy, phase)| amplitude * (fx * x + fy * y + phase).sin())
                .sum::<f64>();
        self.tint.map(|tint| (level * tint).max(0.0))
    }
}

/// Renders a new puzzle from `seed`.
///
/// The gap and the piece are not functions of each other: the gap is filled
/// with a dark mottled shadow of its own (a tenth of the scene shows through),
/// the piece gets a brightness of its own and grain, and a faint decoy outline
/// sits elsewhere on the same row. A person sees the hole at once; a script has
/// to match shapes. (An earlier gap, the scene darkened by 45–60 % per pixel,
/// was found by dividing the picture by the piece along the row in 44 of 60
/// puzzles: `dividing_the_picture_by_the_piece_rarely_finds_the_gap`.)
pub(crate) fn render(seed: u64) -> Puzzle {
    let mut jitter = Jitter(seed | 1);
    // The landscape becomes the picture in place: the gap and the decoy never
    // overlap (the decoy is over a piece's width away), so each of the gap's
    // pixels is still the clean scene when it is read for the piece.
    let mut picture = landscape(&mut jitter);
    let lowest = f64::from(MIN_GAP_X);
    let highest = f64::from(WIDTH - PIECE_SIZE - 8);
    let gap_x = jitter.between(lowest, highest) as u32;
    let piece_top = jitter.between(8.0, f64::from(HEIGHT - PIECE_SIZE - 8)) as u32;
    // The decoy: at least a piece's width away from the gap, anywhere on the row.
    let decoy_x = loop {
        let x = jitter.between(8.0, highest) as u32;
        if x.abs_diff(gap_x) > PIECE_SIZE {
            break x;
        }
    };
    let piece_light = jitter.between(-0.08, 0.12);
    let shadow = Shadow::new(&mut jitter);
    let white = [255.0, 255.0, 255.0];
    let black = [0.0, 0.0, 0.0];

    let mut piece = Vec::with_capacity((PIECE_SIZE * PIECE_SIZE * 4) as usize);
    for y in 0..PIECE_SIZE {
        for x in 0..PIECE_SIZE {
            let cover = coverage(x, y, 0.0);
            let rim = cover - coverage(x, y, -1.5);
            let row = (piece_top + y) * WIDTH;
            // The decoy: a faint rim, nothing darkened.
            let decoy = (row + decoy_x + x) as usize;
            picture[decoy] = mix(picture[decoy], white, 0.3 * rim);
            let index = (row + gap_x + x) as usize;
            let under = picture[index];
            // The gap: the shadow over the scene, with a pale rim.
            let dark = shadow.at(f64::from(x), f64::from(y), jitter.between(-14.0, 14.0));
            let shaded = mix(under, dark, 0.9 * cover);
            picture[index] = mix(shaded, white, 0.7 * rim);
            // The piece: the same place, lit its own way, with grain and a bright rim.
            let lit = if piece_light >= 0.0 {
                mix(under, white, piece_light)
            } else {
                mix(under, black, -piece_light)
            };
            let grain = jitter.between(-6.0, 6.0);
            let lit = mix(lit.map(|channel| channel + grain), white, 0.85 * rim);
            piece.extend([
                channel(lit[0]),
                channel(lit[1]),
                channel(lit[2]),
                channel(cover * 255.0),
            ]);
        }
    }
    let picture: Vec<u8> = picture
        .iter()
        .flat_map(|colour| colour.map(channel))
        .collect();
    Puzzle {
        picture: encode_png(WIDTH, HEIGHT, png::ColorType::Rgb, &picture),
        piece: encode_png(PIECE_SIZE, PIECE_SIZE, png::ColorType::Rgba, &piece),
        gap_x,
        piece_top,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gap_is_inside_the_picture_and_far_enough_to_need_a_drag() {
        for seed in 0..200 {
            let puzzle = render(seed * 7919);
            assert!(puzzle.gap_x >= MIN_GAP_X);
            assert!(puzzle.gap_x + PIECE_SIZE <= WIDTH);
            assert!(puzzle.piece_top + PIECE_SIZE <= HEIGHT);
        }
    }

    #[test]
    fn pictures_are_png_and_differ_from_one_challenge_to_the_next() {
        let (a, b) = (render(1), render(2));
        assert!(a.picture.starts_with(b"\x89PNG"));
        assert!(a.piece.starts_with(b"\x89PNG"));
        assert_ne!(a.picture, b.picture);
        assert!(
            a.picture.len() < 40_000,
            "a challenge stays small: {} bytes",
            a.picture.len()
        );
    }

    #[test]
    fn rendering_stays_within_a_few_milliseconds() {
        let started = std::time::Instant::now();
        for seed in 0..20 {
            render(seed);
        }
        let each = started.elapsed() / 20;
        eprintln!("one puzzle: {each:?}");
        // Debug builds are several times slower than release; this only
        // catches a render that became far too costly for the opening second.
        assert!(each < std::time::Duration::from_millis(100), "{each:?}");
    }

    /// A PNG's pixels, in its own colour type (RGB for the picture, RGBA for
    /// the piece).
    fn pixels(png: &[u8]) -> Vec<u8> {
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut buffer).unwrap();
        buffer.truncate(frame.buffer_size());
        buffer
    }

    /// The script #25 names: divide the picture by the piece along the piece's
    /// row at every `x`, and answer the `x` where the ratio is the most even
    /// (where the picture is the piece, uniformly darkened).
    fn divide_along_the_row(puzzle: &Puzzle) -> u32 {
        let (picture, piece) = (pixels(&puzzle.picture), pixels(&puzzle.piece));
        let mut best = (f64::INFINITY, 0);
        for x in 0..=(WIDTH - PIECE_SIZE) {
            let (mut sum, mut squares, mut count) = (0.0, 0.0, 0.0);
            for py in 0..PIECE_SIZE {
                for px in 0..PIECE_SIZE {
                    let p = ((py * PIECE_SIZE + px) * 4) as usize;
                    if piece[p + 3] < 250 {
                        continue;
                    }
                    let q = (((puzzle.piece_top + py) * WIDTH + x + px) * 3) as usize;
                    for c in 0..3 {
                        let ratio =
                            (f64::from(picture[q + c]) + 1.0) / (f64::from(piece[p + c]) + 1.0);
                        sum += ratio;
                        squares += ratio * ratio;
                        count += 1.0;
                    }
                }
            }
            let mean = sum / count;
            let spread = (squares / count - mean * mean).max(0.0).sqrt() / mean;
            if spread < best.0 {
                best = (spread, x);
            }
        }
        best.1
    }

    #[test]
    fn dividing_the_picture_by_the_piece_rarely_finds_the_gap() {
        let seeds: u64 = 60;
        let found = (0..seeds)
            .map(|seed| render(seed * 104_729 + 11))
            .filter(|puzzle| {
                let guess = f64::from(divide_along_the_row(puzzle));
                (guess - f64::from(puzzle.gap_x)).abs() <= app::slide::TOLERANCE_PX
            })
            .count() as u64;
        eprintln!("dividing along the row found {found} gaps of {seeds}");
        assert!(found * 10 <= seeds, "{found} of {seeds} found");
    }

    #[test]
    fn a_blind_guess_at_the_middle_rarely_passes() {
        let seeds: u64 = 300;
        let middle = f64::from(MIN_GAP_X + (WIDTH - PIECE_SIZE - 8)) / 2.0;
        let passed = (0..seeds)
            .map(|seed| render(seed * 7_919 + 3).gap_x)
            .filter(|gap| (f64::from(*gap) - middle).abs() <= app::slide::TOLERANCE_PX)
            .count() as u64;
        eprintln!("a blind guess at {middle} passed {passed} of {seeds}");
        assert!(passed * 100 <= seeds * 9, "{passed} of {seeds} passed");
    }

    #[test]
    fn the_piece_is_opaque_inside_and_clear_around() {
        // The middle of the square is covered; the top-right corner, between
        // the two knobs, is not.
        assert_eq!(coverage(PIECE_SIZE / 2 - 4, PIECE_SIZE / 2 + 4, 0.0), 1.0);
        assert_eq!(coverage(PIECE_SIZE - 1, 0, 0.0), 0.0);
    }
}
