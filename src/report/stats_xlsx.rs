//! The management release as an Excel workbook: one sheet per table, suppressed cells marked
//! `x`, and a sheet that explains the marks. Deterministic: a fixed creation date.

use std::io::Write;

use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};
use serde::Serialize;

use crate::csv_output::CsvRow;
use crate::error::{Error, Result};
use crate::i18n::{text, Lang};
use crate::stats::release::Release;

fn xerr(e: XlsxError) -> Error {
    Error::Invalid(format!("writing stats.xlsx: {e}"))
}

/// Writes rows of a table: header, then values (numbers as numbers, empty as empty).
fn sheet<T: CsvRow + Serialize>(ws: &mut Worksheet, rows: &[T], bold: &Format) -> Result<()> {
    for (c, name) in T::COLUMNS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *name, bold)
            .map_err(xerr)?;
        ws.set_column_width(c as u16, 14).map_err(xerr)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let value = serde_json::to_value(row).map_err(|e| Error::Invalid(e.to_string()))?;
        for (c, name) in T::COLUMNS.iter().enumerate() {
            let (r, c) = ((r + 1) as u32, c as u16);
            match &value[*name] {
                serde_json::Value::Number(n) => {
                    ws.write_number(r, c, n.as_f64().unwrap_or(0.0))
                        .map_err(xerr)?;
                }
                serde_json::Value::String(s) if !s.is_empty() => {
                    ws.write_string(r, c, s).map_err(xerr)?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

pub fn write(release: &Release, lang: Lang, created: NaiveDate, w: &mut dyn Write) -> Result<()> {
    let t = |k: &str| text(lang, k);
    let mut wb = Workbook::new();
    let date = ExcelDateTime::from_ymd(
        created.year() as u16,
        created.month() as u8,
        created.day() as u8,
    )
    .map_err(xerr)?;
    wb.set_properties(&DocProperties::new().set_creation_datetime(&date));
    let bold = Format::new().set_bold();
    sheet(
        wb.add_worksheet().set_name("teams").map_err(xerr)?,
        &release.teams,
        &bold,
    )?;
    sheet(
        wb.add_worksheet().set_name("roles").map_err(xerr)?,
        &release.roles,
        &bold,
    )?;
    sheet(
        wb.add_worksheet().set_name("trend").map_err(xerr)?,
        &release.trend,
        &bold,
    )?;
    sheet(
        wb.add_worksheet().set_name("concentration").map_err(xerr)?,
        &release.concentration,
        &bold,
    )?;
    let ws = wb
        .add_worksheet()
        .set_name(t("stats_marks_sheet"))
        .map_err(xerr)?;
    ws.set_column_width(0, 110).map_err(xerr)?;
    let mut lines = vec![
        t("stats_marks_title"),
        t("stats_mark_x"),
        t("stats_mark_rules"),
        t("stats_mark_secondary"),
        t("stats_mark_linked"),
        t("stats_mark_empty"),
    ];
    if release.rounded_to > 1 {
        lines.push(t("stats_mark_rounded").replace("{base}", &release.rounded_to.to_string()));
    }
    for (i, l) in lines.iter().enumerate() {
        if i == 0 {
            ws.write_string_with_format(i as u32, 0, l, &bold)
                .map_err(xerr)?;
        } else {
            ws.write_string(i as u32, 0, l).map_err(xerr)?;
        }
    }
    let buf = wb.save_to_buffer().map_err(xerr)?;
    w.write_all(&buf)
        .map_err(|e| Error::Invalid(format!("writing stats.xlsx: {e}")))
}
