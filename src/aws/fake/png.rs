//! A small PNG for the fake GetMetricWidgetImage: a made-up series that rises through the
//! threshold, and the threshold as a horizontal line. Grayscale, zlib via flate2.

use std::io::Write;

const WIDTH: usize = 400;
const HEIGHT: usize = 160;

/// Draw the chart; `threshold_at` is where the threshold sits, 0.0 (bottom) to 1.0 (top).
pub fn chart(threshold_at: f64) -> Vec<u8> {
    let mut pixels = vec![255u8; WIDTH * HEIGHT];
    let row_of = |v: f64| {
        let v = v.clamp(0.0, 1.0);
        ((1.0 - v) * (HEIGHT - 1) as f64).round() as usize
    };
    // The threshold: a dashed mid-gray line.
    let t_row = row_of(threshold_at);
    for x in (0..WIDTH).filter(|x| (x / 6) % 2 == 0) {
        pixels[t_row * WIDTH + x] = 128;
    }
    // The series: flat, then climbing through the threshold two thirds of the way along.
    let mut prev: Option<usize> = None;
    for x in 0..WIDTH {
        let f = x as f64 / WIDTH as f64;
        let base = threshold_at * 0.6 + 0.04 * (f * 40.0).sin();
        let v = if f < 0.6 {
            base
        } else {
            base + (f - 0.6) * 2.5 * (1.0 - threshold_at * 0.6)
        };
        let row = row_of(v);
        let (lo, hi) = match prev {
            Some(p) => (p.min(row), p.max(row)),
            None => (row, row),
        };
        for r in lo..=hi {
            pixels[r * WIDTH + x] = 0;
        }
        prev = Some(row);
    }
    encode(&pixels)
}

fn encode(pixels: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity((WIDTH + 1) * HEIGHT);
    for row in pixels.chunks(WIDTH) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = z.write_all(&raw);
    let idat = z.finish().unwrap_or_default();

    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(WIDTH as u32).to_be_bytes());
    ihdr.extend_from_slice(&(HEIGHT as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grayscale, no interlace

    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_is_a_well_formed_png() {
        let png = chart(0.7);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 400);
        assert!(png.ends_with(&[0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]));
    }
}
