//! The report's charts, drawn with plotters' SVG backend into strings (no fonts needed: the
//! SVG carries text elements that the browser lays out).

use plotters::prelude::*;
use serde::Serialize;

use crate::audit::summary::AuditSummary;
use crate::error::{Error, Result};
use crate::i18n::{text, Lang};
use crate::policy::Policy;

const W: u32 = 520;
const H: u32 = 260;
const BLUE: RGBColor = RGBColor(0x3b, 0x6e, 0xa8);
const RED: RGBColor = RGBColor(0xb3, 0x26, 0x1e);
const AMBER: RGBColor = RGBColor(0xd0, 0x8a, 0x1a);
const SHADE: RGBColor = RGBColor(0xe9, 0xe4, 0xf5);

/// The four charts, as inline SVG.
#[derive(Debug, Clone, Serialize)]
pub struct Charts {
    pub hours: String,
    pub weekdays: String,
    pub months: String,
    pub emergency: String,
}

struct Series {
    name: String,
    values: Vec<f64>,
    color: RGBColor,
}

fn floats(v: &[usize]) -> Vec<f64> {
    v.iter().map(|x| *x as f64).collect()
}

fn chart_err<E: std::fmt::Display>(e: E) -> Error {
    Error::Invalid(format!("drawing a chart: {e}"))
}

/// A bar chart over `labels` with stacked series; `shaded` marks categories with a band.
fn bars(labels: &[String], series: &[Series], shaded: &[bool], y_label: &str) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        let n = labels.len().max(1);
        let top = (0..n)
            .map(|i| {
                series
                    .iter()
                    .map(|s| s.values.get(i).copied().unwrap_or(0.0))
                    .sum::<f64>()
            })
            .fold(0.0, f64::max);
        let y_max = if top > 0.0 { top * 1.1 } else { 1.0 };
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d((0usize..n).into_segmented(), 0.0..y_max)
            .map_err(chart_err)?;
        let step = (n / 12).max(1);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if i % step == 0 => {
                    labels.get(*i).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .y_desc(y_label)
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(chart_err)?;
        chart
            .draw_series(
                shaded
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| **s)
                    .map(|(i, _)| {
                        Rectangle::new(
                            [
                                (SegmentValue::Exact(i), 0.0),
                                (SegmentValue::Exact(i + 1), y_max),
                            ],
                            SHADE.filled(),
                        )
                    }),
            )
            .map_err(chart_err)?;
        let mut base = vec![0.0f64; n];
        for s in series {
            let color = s.color;
            let rects: Vec<_> = (0..n)
                .map(|i| {
                    let v = s.values.get(i).copied().unwrap_or(0.0);
                    let r = Rectangle::new(
                        [
                            (SegmentValue::Exact(i), base[i]),
                            (SegmentValue::Exact(i + 1), base[i] + v),
                        ],
                        color.filled(),
                    );
                    base[i] += v;
                    r
                })
                .collect();
            chart
                .draw_series(rects)
                .map_err(chart_err)?
                .label(s.name.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.95))
                .border_style(BLACK.mix(0.3))
                .label_font(("sans-serif", 11))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(chart_err)?;
        }
        root.present().map_err(chart_err)?;
    }
    Ok(svg)
}

impl Charts {
    pub fn draw(s: &AuditSummary, policy: &Policy, lang: Lang) -> Result<Charts> {
        let t = |k: &str| text(lang, k);
        let o = &policy.office_hours;
        let from = chrono::Timelike::hour(&o.from);
        let to = chrono::Timelike::hour(&o.to) + u32::from(chrono::Timelike::minute(&o.to) > 0);
        let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
        let hour_shade: Vec<bool> = (0..24u32).map(|h| h < from || h >= to).collect();
        let days: Vec<String> = t("weekdays").split(',').map(str::to_string).collect();
        let day_shade: Vec<bool> = (0..7u32)
            .map(|d| !o.days.iter().any(|x| x.num_days_from_monday() == d))
            .collect();
        let months: Vec<String> = s.months.iter().map(|m| m.month.clone()).collect();
        let unj: Vec<usize> = s.months.iter().map(|m| m.unjustified).collect();
        let emg: Vec<usize> = s.months.iter().map(|m| m.emergency).collect();
        let none = vec![false; months.len()];
        Ok(Charts {
            hours: bars(
                &hours,
                &[Series {
                    name: t("events"),
                    values: floats(&s.reads_by_hour),
                    color: BLUE,
                }],
                &hour_shade,
                &t("events"),
            )?,
            weekdays: bars(
                &days,
                &[Series {
                    name: t("events"),
                    values: floats(&s.reads_by_weekday),
                    color: BLUE,
                }],
                &day_shade,
                &t("events"),
            )?,
            months: bars(
                &months,
                &[
                    Series {
                        name: t("unjustified"),
                        values: floats(&unj),
                        color: RED,
                    },
                    Series {
                        name: t("emergency"),
                        values: floats(&emg),
                        color: AMBER,
                    },
                ],
                &none,
                &t("events"),
            )?,
            emergency: bars(
                &months,
                &[Series {
                    name: t("emergency"),
                    values: floats(&emg),
                    color: AMBER,
                }],
                &none,
                &t("events"),
            )?,
        })
    }
}

/// Accesses per day, stacked by verdict (investigations).
pub fn timeline(
    days: &[String],
    justified: &[usize],
    unjustified: &[usize],
    emergency: &[usize],
    lang: Lang,
) -> Result<String> {
    let t = |k: &str| text(lang, k);
    bars(
        days,
        &[
            Series {
                name: t("justified"),
                values: floats(justified),
                color: BLUE,
            },
            Series {
                name: t("unjustified"),
                values: floats(unjustified),
                color: RED,
            },
            Series {
                name: t("emergency"),
                values: floats(emergency),
                color: AMBER,
            },
        ],
        &vec![false; days.len()],
        &t("events"),
    )
}

/// One series of published values (management statistics); a suppressed value draws no bar.
pub fn published(
    labels: &[String],
    values: &[Option<f64>],
    name: &str,
    y_label: &str,
) -> Result<String> {
    bars(
        labels,
        &[Series {
            name: name.to_string(),
            values: values.iter().map(|v| v.unwrap_or(0.0)).collect(),
            color: BLUE,
        }],
        &values.iter().map(Option::is_none).collect::<Vec<_>>(),
        y_label,
    )
}
