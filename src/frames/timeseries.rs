//! Time series: SQL's long rows → series Grafana's panels and alert rules read.
//!
//! ClickHouse returns rows `(time, labels…, values…)`. Grafana needs one series per value column
//! and distinct label set, sorted by time, with no duplicate timestamps. This module turns the
//! normalised result, batch by batch as it streams in ([`Shaper`]), into [`Series`]:
//!
//! * the time column is the first time field (Date, Date32, DateTime, DateTime64 after
//!   normalisation), or — Altinity's convention for `$timeSeries` queries — a numeric column named
//!   `t` holding epoch milliseconds;
//! * every other string column is a label, every numeric or boolean column a value; other columns
//!   (JSON) are skipped with a notice;
//! * Altinity's `$columns`-style `groupArr` column (`Array(Tuple(key, value))`) becomes one series
//!   per key;
//! * rows are grouped by their label values with interned ids (no allocation per row) and
//!   appended to their series as each batch arrives: times and the common 8-byte value types
//!   scattered straight into place, other value types reordered with Arrow's `take`, so value
//!   types stay exact; a series whose times are not increasing is sorted once at the end;
//! * two rows with the same time and labels are an error naming the labels (aggregate them with
//!   `GROUP BY`);
//! * optional per-query gap filling (`null`, `zero`, `previous`, or a value) on the query's
//!   interval grid, bounded by max data points; Altinity's `extrapolate` and `nullifySparse`.
//!
//! A result without label columns stays one wide frame (`timeseries-wide`); with labels or keys,
//! each series is its own frame (`timeseries-multi`), the shape Grafana alerting turns into one
//! alert instance per series.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, Float64Array, RecordBatch, StringArray, UInt32Array,
    cast::AsArray, types::*,
};
use arrow_schema::{DataType, SchemaRef, TimeUnit};

use crate::chtype::ChType;

use super::FrameError;

/// Gap filling of a time-series query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fill {
    /// Leave gaps (default).
    None,
    /// Insert nulls (panels break lines there).
    Null,
    /// Insert zeros.
    Zero,
    /// Repeat the previous value.
    Previous,
    /// Insert this value.
    Value(f64),
}

/// Options that shape series.
#[derive(Clone, Debug)]
pub struct TsOptions {
    /// Gap filling.
    pub fill: Fill,
    /// Range start, epoch ms.
    pub from_ms: i64,
    /// Range end, epoch ms.
    pub to_ms: i64,
    /// The query interval, ms (grid step for filling).
    pub interval_ms: i64,
    /// Max data points (bounds the fill grid).
    pub max_data_points: i64,
    /// Altinity's last-point extrapolation, applied when the range ends now.
    pub extrapolate: bool,
    /// The range ends at "now" (a relative range).
    pub till_now: bool,
    /// Altinity's `nullifySparse`: every series gets every timestamp, missing ones null.
    pub nullify_sparse: bool,
    /// Accept a numeric `t` column (epoch ms) as the time (Altinity's `$timeSeries`).
    pub ms_column_t: bool,
    /// At most this many points in all series together after `nullifySparse` and gap filling
    /// (the query's row cap); a step that would make more is skipped with a notice.
    pub max_points: u64,
    /// The setting `max_points` comes from, for notices.
    pub max_points_from: &'static str,
}

/// One series: a time field and a value field.
#[derive(Debug, Clone)]
pub struct Series {
    /// Value field name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Display name the datasource suggests (`displayNameFromDS`).
    pub display_name: Option<String>,
    /// Times, ns, ascending.
    pub time: Vec<i64>,
    /// Values (numeric or boolean), same length.
    pub values: ArrayRef,
}

/// The shaped result.
#[derive(Debug)]
pub enum Shaped {
    /// No labels: one frame, time + value columns.
    Wide {
        /// Time field name.
        time_name: String,
        /// Times, ns, ascending.
        time: Vec<i64>,
        /// Value columns (name, values).
        values: Vec<(String, ArrayRef)>,
    },
    /// One frame per series.
    Multi(Vec<Series>),
}

/// Why rows could not become series.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShapeError {
    /// No time column.
    #[error(
        "a time series needs a time column (Date, DateTime or DateTime64, or Altinity's `t` in milliseconds); the result has {0}. Use format table for results without time"
    )]
    NoTime(String),
    /// No value column.
    #[error("a time series needs at least one numeric value column; the result has {0}")]
    NoValue(String),
    /// Two rows for one series and time.
    #[error(
        "two rows have the same time {time} and labels {labels}: aggregate them (GROUP BY time and the label columns)"
    )]
    Duplicate {
        /// The time, as text.
        time: String,
        /// The labels, as `{k="v", …}`.
        labels: String,
    },
}

impl From<ShapeError> for FrameError {
    fn from(e: ShapeError) -> Self {
        FrameError::Shape(e)
    }
}

/// FxHash: a fast hash for short keys (label strings, integer pairs) in the grouping loop. Keys
/// come from the user's own result, so the lack of DoS resistance does not matter here.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Fx {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FxBuild = std::hash::BuildHasherDefault<Fx>;

/// Column roles of a time-series result.
#[derive(Debug, Clone, PartialEq)]
enum Role {
    Time,
    TimeMs,
    Label,
    Value,
    GroupArr,
    Skip,
}

/// True for Altinity's `groupArr` type: `Array(Tuple(String-like key, numeric value))`.
pub(crate) fn is_group_array(ch: &ChType) -> bool {
    let ChType::Array(inner) = ch.base() else {
        return false;
    };
    let ChType::Tuple(items) = inner.base() else {
        return false;
    };
    items.len() == 2
        && matches!(
            items[0].1.base(),
            ChType::String | ChType::FixedString(_) | ChType::Enum(_)
        )
        && matches!(
            items[1].1.base(),
            ChType::Int(_)
                | ChType::UInt(_)
                | ChType::Float(_)
                | ChType::Decimal { .. }
                | ChType::Nullable(_)
        )
}

fn roles(schema: &arrow_schema::Schema, types: &[ChType], opts: &TsOptions) -> Vec<Role> {
    let mut time_seen = false;
    let mut roles: Vec<Role> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| match f.data_type() {
            DataType::Timestamp(_, _) if !time_seen => {
                time_seen = true;
                Role::Time
            }
            DataType::Utf8 => Role::Label,
            DataType::List(_) if types.get(i).is_some_and(is_group_array) => Role::GroupArr,
            dt if dt.is_numeric() || *dt == DataType::Boolean => Role::Value,
            _ => Role::Skip,
        })
        .collect();
    if !time_seen
        && opts.ms_column_t
        && let Some(i) = schema
            .fields()
            .iter()
            .position(|f| f.name() == "t" && f.data_type().is_integer())
    {
        roles[i] = Role::TimeMs;
    }
    roles
}

/// Shapes a whole result into series (see [`Shaper`]). `types` are the ClickHouse types by
/// column.
pub fn shape(
    batch: &RecordBatch,
    types: &[ChType],
    opts: &TsOptions,
) -> Result<(Shaped, Vec<String>), FrameError> {
    let mut shaper = Shaper::new(batch.schema(), types, opts)?;
    shaper.push(batch)?;
    shaper.finish()
}

/// Long→wide, batch by batch. Labelled rows are grouped into their series as batches arrive, so
/// the work overlaps with ClickHouse sending the rest and no batch is ever concatenated; results
/// without labels (one wide frame) and Altinity `groupArr` results are shaped whole at the end.
pub struct Shaper {
    schema: SchemaRef,
    opts: TsOptions,
    time_idx: usize,
    millis: bool,
    labels: Vec<usize>,
    values: Vec<usize>,
    groups: Vec<usize>,
    notices: Vec<String>,
    state: State,
}

enum State {
    Grouping(Box<Grouper>),
    Whole(Vec<RecordBatch>),
}

impl Shaper {
    /// Recognises the time, label and value columns of a result with `schema` (Grafana-typed
    /// columns) of ClickHouse `types`.
    pub fn new(
        schema: SchemaRef,
        types: &[ChType],
        opts: &TsOptions,
    ) -> Result<Shaper, ShapeError> {
        let roles = roles(&schema, types, opts);
        let names = || {
            schema
                .fields()
                .iter()
                .map(|f| format!("`{}` {}", f.name(), f.data_type()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(time_idx) = roles
            .iter()
            .position(|r| matches!(r, Role::Time | Role::TimeMs))
        else {
            return Err(ShapeError::NoTime(if schema.fields().is_empty() {
                "no columns".into()
            } else {
                names()
            }));
        };
        let notices = roles
            .iter()
            .enumerate()
            .filter(|(_, r)| **r == Role::Skip)
            .map(|(i, _)| {
                format!(
                    "Column `{}` is neither a label (string) nor a value (number) and is not shown.",
                    schema.field(i).name()
                )
            })
            .collect();
        let with = |role: Role| -> Vec<usize> {
            roles
                .iter()
                .enumerate()
                .filter(|(_, r)| **r == role)
                .map(|(i, _)| i)
                .collect()
        };
        let (labels, values, groups) = (with(Role::Label), with(Role::Value), with(Role::GroupArr));
        if groups.is_empty() && values.is_empty() {
            return Err(ShapeError::NoValue(names()));
        }
        let state = if groups.is_empty() && !labels.is_empty() {
            State::Grouping(Box::new(Grouper::new(labels.len(), values.len())))
        } else {
            State::Whole(Vec::new())
        };
        Ok(Shaper {
            millis: roles[time_idx] == Role::TimeMs,
            schema,
            opts: opts.clone(),
            time_idx,
            labels,
            values,
            groups,
            notices,
            state,
        })
    }

    /// Takes the next batch of the result.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<(), FrameError> {
        match &mut self.state {
            State::Grouping(g) => {
                let time = time_values(batch.column(self.time_idx), self.millis);
                let labels: Vec<&StringArray> = self
                    .labels
                    .iter()
                    .map(|&i| batch.column(i).as_string::<i32>())
                    .collect();
                let values: Vec<&ArrayRef> = self.values.iter().map(|&i| batch.column(i)).collect();
                g.push(&time, &labels, &values)
            }
            State::Whole(batches) => {
                batches.push(batch.clone());
                Ok(())
            }
        }
    }

    /// The series, and notices about columns that were not shown.
    pub fn finish(self) -> Result<(Shaped, Vec<String>), FrameError> {
        let opts = &self.opts;
        let mut shaped = match self.state {
            State::Grouping(g) => {
                let names = |cols: &[usize]| -> Vec<String> {
                    cols.iter()
                        .map(|&i| self.schema.field(i).name().clone())
                        .collect()
                };
                Shaped::Multi(g.finish(&names(&self.labels), &names(&self.values))?)
            }
            State::Whole(batches) => {
                let batch = arrow_select::concat::concat_batches(&self.schema, &batches)
                    .map_err(FrameError::Write)?;
                let time = time_values(batch.column(self.time_idx), self.millis);
                if !self.groups.is_empty() {
                    Shaped::Multi(group_array_series(&batch, &time, &self.groups)?)
                } else {
                    let idx = sorted_rows(&time, (0..batch.num_rows() as u32).collect());
                    check_duplicates(&time, &idx, &BTreeMap::new())?;
                    let take = UInt32Array::from(idx.clone());
                    Shaped::Wide {
                        time_name: self.schema.field(self.time_idx).name().clone(),
                        time: idx.iter().map(|&i| time[i as usize]).collect(),
                        values: self
                            .values
                            .iter()
                            .map(|&v| {
                                (
                                    self.schema.field(v).name().clone(),
                                    take_column(batch.column(v), &take),
                                )
                            })
                            .collect(),
                    }
                }
            }
        };
        let mut notices = self.notices;
        if opts.nullify_sparse
            && let Shaped::Multi(series) = &mut shaped
        {
            let times = distinct_times(series);
            let points = (series.len() as u64).saturating_mul(times);
            if points > opts.max_points {
                notices.push(format!(
                    "nullifySparse was not applied: {} series × {times} timestamps would make {points} points, more than the limit of {} ({}). Narrow the query or lower the number of series.",
                    series.len(),
                    opts.max_points,
                    opts.max_points_from
                ));
            } else {
                nullify_sparse(series);
            }
        }
        let mut opts = opts.clone();
        if opts.fill != Fill::None {
            let (series, grid) = match &shaped {
                Shaped::Multi(s) => (s.len() as u64, s.iter().map(|s| s.time.len()).max()),
                Shaped::Wide { time, values, .. } => (values.len() as u64, Some(time.len())),
            };
            let points = series.saturating_mul(fill_points(&opts) + grid.unwrap_or(0) as u64);
            if points > opts.max_points {
                notices.push(format!(
                    "Gaps were not filled: {series} series on a grid of {} points would make {points} points, more than the limit of {} ({}). Widen the interval or narrow the time range.",
                    fill_points(&opts),
                    opts.max_points,
                    opts.max_points_from
                ));
                opts.fill = Fill::None;
            }
        }
        if opts.fill != Fill::None || (opts.extrapolate && opts.till_now) {
            shaped = post_process(shaped, &opts);
        }
        Ok((shaped, notices))
    }
}

/// The bytes of a string's first word that belong to a string of length `len` (index: len, at
/// most 8).
const PREFIX_MASK: [u64; 9] = {
    let mut m = [u64::MAX; 9];
    let mut len = 0;
    while len < 8 {
        m[len] = (1u64 << (8 * len)) - 1;
        len += 1;
    }
    m
};

/// Interns one label column's strings to dense ids, in order of first appearance.
///
/// Label columns have few distinct values and are read once per row, so a direct-mapped cache
/// keyed by the string's length and first eight bytes answers most rows with two integer
/// comparisons (plus one byte comparison for longer strings) before the hash map is consulted.
pub(crate) struct Interner {
    ids: HashMap<Box<[u8]>, u32, FxBuild>,
    texts: Vec<Box<str>>,
    /// (first word, length, id); an empty slot has a length no string has here.
    cache: Box<[(u64, u32, u32); 256]>,
}

impl Interner {
    pub(crate) fn new() -> Interner {
        Interner {
            ids: HashMap::default(),
            texts: Vec::new(),
            cache: Box::new([(0, u32::MAX, 0); 256]),
        }
    }

    /// How many distinct strings have been seen.
    pub(crate) fn len(&self) -> usize {
        self.texts.len()
    }

    /// The string with id `id`.
    pub(crate) fn text(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }

    fn slow(&mut self, s: &[u8]) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.texts.len() as u32;
        self.ids.insert(s.into(), id);
        self.texts.push(String::from_utf8_lossy(s).into());
        id
    }

    /// The ids of every row of `col` (null is the empty string), into `out`.
    /// (holding one more entry than there are ids), also how many rows have each id, at id + 1.
    pub(crate) fn column(&mut self, col: &StringArray, out: &mut Vec<u32>) {
        out.clear();
        out.reserve(col.len());
        let offsets = col.value_offsets();
        let data = col.value_data();
        let nulls = col.null_count() > 0;
        for row in 0..col.len() {
            let (start, end) = if nulls && col.is_null(row) {
                (0, 0)
            } else {
                (offsets[row] as usize, offsets[row + 1] as usize)
            };
            let len = end - start;
            let word = match data.get(start..start + 8) {
                Some(w) => {
                    u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]])
                        & PREFIX_MASK[len.min(8)]
                }
                None => {
                    let mut b = [0u8; 8];
                    let n = len.min(8);
                    b[..n].copy_from_slice(&data[start..start + n]);
                    u64::from_le_bytes(b)
                }
            };
            let slot =
                ((word ^ ((len as u64) << 56)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize;
            let (w, l, cached) = self.cache[slot];
            let hit = w == word
                && l as usize == len
                && (len <= 8 || self.texts[cached as usize].as_bytes() == &data[start..end]);
            let id = if hit {
                cached
            } else {
                let id = self.slow(&data[start..end]);
                self.cache[slot] = (word, len as u32, id);
                id
            };
            out.push(id);
        }
    }
}

/// `values` with each value moved to its place (`places` is a permutation).
fn scatter<T: Copy + Default>(values: &[T], places: &[u32]) -> Vec<T> {
    let mut out = vec![T::default(); values.len()];
    for (&v, &p) in values.iter().zip(places) {
        out[p as usize] = v;
    }
    out
}

/// A value column reordered by `places`: scattered directly for primitive columns without
/// nulls, else gathered with Arrow's `take`.
fn reorder(col: &ArrayRef, places: &[u32]) -> Result<ArrayRef, FrameError> {
    fn primitive<T: ArrowPrimitiveType>(col: &ArrayRef, places: &[u32]) -> ArrayRef {
        let a = col.as_primitive::<T>();
        Arc::new(
            arrow_array::PrimitiveArray::<T>::new(scatter(a.values(), places).into(), None)
                .with_data_type(a.data_type().clone()),
        )
    }
    if col.null_count() == 0 {
        let out = match col.data_type() {
            DataType::Float64 => primitive::<Float64Type>(col, places),
            DataType::Float32 => primitive::<Float32Type>(col, places),
            DataType::Int64 => primitive::<Int64Type>(col, places),
            DataType::Int32 => primitive::<Int32Type>(col, places),
            DataType::Int16 => primitive::<Int16Type>(col, places),
            DataType::Int8 => primitive::<Int8Type>(col, places),
            DataType::UInt64 => primitive::<UInt64Type>(col, places),
            DataType::UInt32 => primitive::<UInt32Type>(col, places),
            DataType::UInt16 => primitive::<UInt16Type>(col, places),
            DataType::UInt8 => primitive::<UInt8Type>(col, places),
            _ => ArrayRef::clone(col),
        };
        if !Arc::ptr_eq(&out, col) {
            return Ok(out);
        }
    }
    let mut order = vec![0u32; places.len()];
    for (row, &p) in places.iter().enumerate() {
        order[p as usize] = row as u32;
    }
    arrow_select::take::take(col.as_ref(), &UInt32Array::from(order), None)
        .map_err(FrameError::Write)
}

/// One series' values of one value column, as batches add them.
enum Store {
    /// Values of the common 8-byte types without nulls (counts, sums, averages), scattered
    /// straight into place.
    F64(Vec<f64>),
    I64(Vec<i64>),
    U64(Vec<u64>),
    /// Anything else: slices of each batch's reordered column.
    Pieces(Vec<ArrayRef>),
}

impl Store {
    fn f64s(&mut self) -> Option<&mut Vec<f64>> {
        self.typed(Store::F64, |s| match s {
            Store::F64(v) => Some(v),
            _ => None,
        })
    }

    fn i64s(&mut self) -> Option<&mut Vec<i64>> {
        self.typed(Store::I64, |s| match s {
            Store::I64(v) => Some(v),
            _ => None,
        })
    }

    fn u64s(&mut self) -> Option<&mut Vec<u64>> {
        self.typed(Store::U64, |s| match s {
            Store::U64(v) => Some(v),
            _ => None,
        })
    }

    /// The typed vector, turning a store with nothing in it yet into one; `None` when the store
    /// already holds values of another kind.
    fn typed<T>(
        &mut self,
        make: fn(Vec<T>) -> Store,
        get: fn(&mut Store) -> Option<&mut Vec<T>>,
    ) -> Option<&mut Vec<T>> {
        if matches!(self, Store::Pieces(p) if p.is_empty()) {
            *self = make(Vec::new());
        }
        get(self)
    }

    /// The store as pieces (typed values become the first piece).
    fn pieces(&mut self) -> Result<&mut Vec<ArrayRef>, FrameError> {
        if !matches!(self, Store::Pieces(_)) {
            let array = std::mem::replace(self, Store::Pieces(Vec::new())).into_array()?;
            if let Store::Pieces(p) = self {
                p.push(array);
            }
        }
        match self {
            Store::Pieces(p) => Ok(p),
            _ => unreachable!("just made pieces"),
        }
    }

    fn into_array(self) -> Result<ArrayRef, FrameError> {
        Ok(match self {
            Store::F64(v) => Arc::new(Float64Array::from(v)),
            Store::I64(v) => Arc::new(arrow_array::Int64Array::from(v)),
            Store::U64(v) => Arc::new(arrow_array::UInt64Array::from(v)),
            Store::Pieces(p) if p.len() == 1 => p[0].clone(),
            Store::Pieces(p) => {
                let refs: Vec<&dyn Array> = p.iter().map(|a| a.as_ref()).collect();
                arrow_select::concat::concat(&refs).map_err(FrameError::Write)?
            }
        })
    }
}

/// Appends each row's value to its series' typed store (`group` gives each row's series, `share`
/// the room to make in each), and with `times` each row's time to its series' times; false,
/// touching nothing, when a store already holds pieces (a batch of this column had nulls).
fn append_direct<'a, T: Copy + 'a>(
    stores: impl Iterator<Item = &'a mut Store>,
    values: &[T],
    group: &[u32],
    share: usize,
    typed: fn(&mut Store) -> Option<&mut Vec<T>>,
    times: Option<(&mut [&mut Vec<i64>], &[i64])>,
) -> bool {
    let stores: Vec<&mut Store> = stores.collect();
    let fits = |s: &Store| match s {
        Store::Pieces(p) => p.is_empty(),
        _ => true,
    };
    if !stores.iter().all(|s| fits(s)) {
        return false;
    }
    let mut dests: Vec<&mut Vec<T>> = Vec::with_capacity(stores.len());
    for s in stores {
        match typed(s) {
            Some(v) => dests.push(v),
            None => return false,
        }
    }
    match times {
        // The times in the same pass (one read of `group` instead of two).
        Some((time_dests, time)) => {
            for (d, t) in dests.iter_mut().zip(time_dests.iter_mut()) {
                d.reserve(share);
                t.reserve(share);
            }
            for ((&v, &t), &g) in values.iter().zip(time).zip(group) {
                dests[g as usize].push(v);
                time_dests[g as usize].push(t);
            }
        }
        None => scatter_into(&mut dests, values, group, share),
    }
    true
}

/// Appends each row's value to the end of its series' vector (`group` gives each row's series),
/// having made room for `share` more in each.
fn scatter_into<T: Copy>(dests: &mut [&mut Vec<T>], values: &[T], group: &[u32], share: usize) {
    for d in dests.iter_mut() {
        d.reserve(share);
    }
    for (&v, &g) in values.iter().zip(group) {
        dests[g as usize].push(v);
    }
}

/// Rows grouped into series across batches: each series' times and value pieces in arrival
/// order, sorted (and checked for duplicates) once at the end.
struct Grouper {
    interners: Vec<Interner>,
    /// For label columns after the first: (group so far, this column's id) → group.
    pairs: Vec<HashMap<u64, u32, FxBuild>>,
    /// Each series' label ids, one per label column.
    keys: Vec<Vec<u32>>,
    times: Vec<Vec<i64>>,
    /// Per series, per value column: its values so far.
    stores: Vec<Vec<Store>>,
    values: usize,
    // scratch, reused across batches
    ids: Vec<Vec<u32>>,
    group: Vec<u32>,
    counts: Vec<usize>,
}

impl Grouper {
    fn new(labels: usize, values: usize) -> Grouper {
        Grouper {
            interners: (0..labels).map(|_| Interner::new()).collect(),
            pairs: (1..labels).map(|_| HashMap::default()).collect(),
            keys: Vec::new(),
            times: Vec::new(),
            stores: Vec::new(),
            values,
            ids: vec![Vec::new(); labels],
            group: Vec::new(),
            counts: Vec::new(),
        }
    }

    fn push(
        &mut self,
        time: &[i64],
        labels: &[&StringArray],
        values: &[&ArrayRef],
    ) -> Result<(), FrameError> {
        let n = time.len();
        for (c, col) in labels.iter().enumerate() {
            self.interners[c].column(col, &mut self.ids[c]);
        }
        // One series id per row: the first column's ids, folded with the others' in turn.
        let before = self.times.len();
        let series = if labels.len() == 1 {
            std::mem::swap(&mut self.group, &mut self.ids[0]);
            self.interners[0].texts.len()
        } else {
            self.group.clear();
            self.group.extend_from_slice(&self.ids[0]);
            for c in 1..labels.len() {
                let pairs = &mut self.pairs[c - 1];
                for (g, &id) in self.group.iter_mut().zip(&self.ids[c]) {
                    let next = pairs.len() as u32;
                    *g = *pairs.entry(((*g as u64) << 32) | id as u64).or_insert(next);
                }
            }
            self.pairs.last().map_or(0, HashMap::len)
        };
        // New series, in order of first appearance (ids are dense and given in that order).
        if series > before {
            self.times.resize_with(series, Vec::new);
            self.stores.resize_with(series, || {
                (0..self.values)
                    .map(|_| Store::Pieces(Vec::new()))
                    .collect()
            });
            if labels.len() == 1 {
                self.keys
                    .extend((before as u32..series as u32).map(|id| vec![id]));
            } else {
                for row in 0..n {
                    if self.group[row] as usize == self.keys.len() {
                        self.keys
                            .push(self.ids.iter().map(|ids| ids[row]).collect());
                    }
                }
            }
        }
        // Room for an even share of the batch per series; pushes grow a busier series further.
        let share = n / series.max(1) + 1;
        // Rows are read in order and each value written straight to the end of its series: on
        // a large batch, gathering series by series instead reads the whole batch once per
        // series.
        let mut times: Vec<&mut Vec<i64>> = self.times.iter_mut().collect();
        let mut times_done = false;
        // Each row's place in the batch reordered by series, for columns Arrow reorders.
        let mut places: Option<Vec<u32>> = None;
        for (v, col) in values.iter().enumerate() {
            let stores = self.stores.iter_mut().map(|s| &mut s[v]);
            let with_times = (!times_done).then_some((&mut times[..], time));
            let direct = if col.null_count() > 0 {
                false
            } else {
                match col.data_type() {
                    DataType::Float64 => append_direct(
                        stores,
                        col.as_primitive::<Float64Type>().values(),
                        &self.group,
                        share,
                        Store::f64s,
                        with_times,
                    ),
                    DataType::Int64 => append_direct(
                        stores,
                        col.as_primitive::<Int64Type>().values(),
                        &self.group,
                        share,
                        Store::i64s,
                        with_times,
                    ),
                    DataType::UInt64 => append_direct(
                        stores,
                        col.as_primitive::<UInt64Type>().values(),
                        &self.group,
                        share,
                        Store::u64s,
                        with_times,
                    ),
                    _ => false,
                }
            };
            if direct {
                times_done = true;
                continue;
            }
            if places.is_none() {
                // Counting sort of this batch's rows by series, keeping their order within a
                // series: `counts[g]..counts[g + 1]` are series g's places.
                self.counts.clear();
                self.counts.resize(series + 1, 0);
                for &g in &self.group {
                    self.counts[g as usize + 1] += 1;
                }
                for g in 0..series {
                    self.counts[g + 1] += self.counts[g];
                }
                let mut at = self.counts.clone();
                places = Some(
                    self.group
                        .iter()
                        .map(|&g| {
                            at[g as usize] += 1;
                            at[g as usize] as u32 - 1
                        })
                        .collect(),
                );
            }
            let places = places.as_deref().unwrap_or_default();
            let reordered = reorder(col, places)?;
            for g in 0..series {
                let (start, end) = (self.counts[g], self.counts[g + 1]);
                if end > start {
                    self.stores[g][v]
                        .pieces()?
                        .push(reordered.slice(start, end - start));
                }
            }
        }
        if !times_done {
            scatter_into(&mut times, time, &self.group, share);
        }
        Ok(())
    }

    fn finish(
        self,
        label_names: &[String],
        value_names: &[String],
    ) -> Result<Vec<Series>, FrameError> {
        let single_label = label_names.len() == 1 && value_names.len() == 1;
        let mut out = Vec::with_capacity(self.times.len() * value_names.len());
        for ((key, times), stores) in self.keys.into_iter().zip(self.times).zip(self.stores) {
            let labels: BTreeMap<String, String> = label_names
                .iter()
                .zip(&key)
                .zip(&self.interners)
                .map(|((name, &id), interner)| {
                    (name.clone(), interner.texts[id as usize].to_string())
                })
                .collect();
            // Strictly increasing (the usual ORDER BY time) needs neither sorting nor a
            // duplicate search.
            let increasing = times.windows(2).all(|w| w[0] < w[1]);
            let idx = (!increasing).then(|| sorted_rows(&times, (0..times.len() as u32).collect()));
            let times = match &idx {
                Some(idx) => idx.iter().map(|&i| times[i as usize]).collect(),
                None => times,
            };
            if let Some(w) = (!increasing)
                .then(|| times.windows(2).position(|w| w[0] == w[1]))
                .flatten()
            {
                return Err(ShapeError::Duplicate {
                    time: super::scalar::format_timestamp_ns(times[w], 3),
                    labels: format_labels(&labels),
                }
                .into());
            }
            let take = idx.map(UInt32Array::from);
            let mut times = Some(times);
            let last = value_names.len().saturating_sub(1);
            for (v, (name, store)) in value_names.iter().zip(stores).enumerate() {
                let values = store.into_array()?;
                let values = match &take {
                    Some(t) => take_column(&values, t),
                    None => values,
                };
                out.push(Series {
                    name: name.clone(),
                    display_name: single_label
                        .then(|| labels.values().next().cloned().unwrap_or_default()),
                    labels: labels.clone(),
                    time: if v == last {
                        times.take().unwrap_or_default()
                    } else {
                        times.clone().unwrap_or_default()
                    },
                    values,
                });
            }
        }
        Ok(out)
    }
}

/// The time column as ns since the epoch: the column's own values when they already are.
fn time_values(col: &ArrayRef, millis: bool) -> std::borrow::Cow<'_, [i64]> {
    let n = col.len();
    match col.data_type() {
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            std::borrow::Cow::Borrowed(col.as_primitive::<TimestampNanosecondType>().values())
        }
        dt if millis && dt.is_integer() => {
            let ms = |i: usize| match dt {
                DataType::UInt64 => col.as_primitive::<UInt64Type>().value(i) as i64,
                DataType::UInt32 => col.as_primitive::<UInt32Type>().value(i) as i64,
                DataType::Int64 => col.as_primitive::<Int64Type>().value(i),
                DataType::Int32 => col.as_primitive::<Int32Type>().value(i) as i64,
                _ => 0,
            };
            (0..n).map(|i| ms(i).saturating_mul(1_000_000)).collect()
        }
        _ => vec![0; n].into(),
    }
}

/// Row indices in time order (stable), without sorting when they already are.
fn sorted_rows(time: &[i64], mut idx: Vec<u32>) -> Vec<u32> {
    if idx
        .windows(2)
        .any(|w| time[w[0] as usize] > time[w[1] as usize])
    {
        idx.sort_by_key(|&i| time[i as usize]);
    }
    idx
}

fn check_duplicates(
    time: &[i64],
    idx: &[u32],
    labels: &BTreeMap<String, String>,
) -> Result<(), ShapeError> {
    if let Some(w) = idx
        .windows(2)
        .find(|w| time[w[0] as usize] == time[w[1] as usize])
    {
        return Err(ShapeError::Duplicate {
            time: super::scalar::format_timestamp_ns(time[w[0] as usize], 3),
            labels: format_labels(labels),
        });
    }
    Ok(())
}

fn format_labels(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn take_column(col: &ArrayRef, idx: &UInt32Array) -> ArrayRef {
    arrow_select::take::take(col.as_ref(), idx, None).unwrap_or_else(|_| col.slice(0, 0))
}

/// Altinity `groupArr`: each row holds `[(key, value), …]`; one series per key.
fn group_array_series(
    batch: &RecordBatch,
    time: &[i64],
    groups: &[usize],
) -> Result<Vec<Series>, ShapeError> {
    let mut order: Vec<String> = Vec::new();
    let mut series: HashMap<String, (Vec<i64>, Vec<Option<f64>>)> = HashMap::new();
    for &g in groups {
        let list = batch.column(g).as_list::<i32>();
        let offsets = list.value_offsets();
        let entries = list.values().as_struct();
        let keys = entries.column(0);
        let vals = entries.column(1);
        for row in 0..batch.num_rows() {
            if list.is_null(row) {
                continue;
            }
            for e in offsets[row] as usize..offsets[row + 1] as usize {
                let key = text_at(keys, e);
                let value = number_at(vals, e);
                let entry = series.entry(key.clone()).or_insert_with(|| {
                    order.push(key.clone());
                    (Vec::new(), Vec::new())
                });
                entry.0.push(time[row]);
                entry.1.push(value);
            }
        }
    }
    let mut out = Vec::with_capacity(order.len());
    for key in order {
        let (times, values) = series.remove(&key).unwrap_or_default();
        let idx = sorted_rows(&times, (0..times.len() as u32).collect());
        let mut labels = BTreeMap::new();
        labels.insert("key".to_owned(), key.clone());
        check_duplicates(&times, &idx, &labels)?;
        out.push(Series {
            name: key.clone(),
            labels: BTreeMap::new(),
            display_name: Some(key),
            time: idx.iter().map(|&i| times[i as usize]).collect(),
            values: Arc::new(Float64Array::from(
                idx.iter().map(|&i| values[i as usize]).collect::<Vec<_>>(),
            )),
        });
    }
    Ok(out)
}

fn text_at(col: &ArrayRef, i: usize) -> String {
    if col.is_null(i) {
        return String::new();
    }
    match col.data_type() {
        DataType::Utf8 => col.as_string::<i32>().value(i).to_owned(),
        DataType::Binary => String::from_utf8_lossy(col.as_binary::<i32>().value(i)).into_owned(),
        DataType::FixedSizeBinary(_) => String::from_utf8_lossy(super::scalar::trim_nuls(
            col.as_fixed_size_binary().value(i),
        ))
        .into_owned(),
        DataType::Dictionary(_, _) => {
            let d = col.as_any_dictionary();
            text_at(d.values(), d.normalized_keys()[i])
        }
        _ => {
            let mut s = String::new();
            super::json::write_value(&mut s, col.as_ref(), &ChType::Nothing, i);
            s.trim_matches('"').to_owned()
        }
    }
}

/// A numeric value as f64 (None for null or non-numeric).
pub(crate) fn number_at(col: &ArrayRef, i: usize) -> Option<f64> {
    if col.is_null(i) {
        return None;
    }
    Some(match col.data_type() {
        DataType::Int8 => col.as_primitive::<Int8Type>().value(i) as f64,
        DataType::Int16 => col.as_primitive::<Int16Type>().value(i) as f64,
        DataType::Int32 => col.as_primitive::<Int32Type>().value(i) as f64,
        DataType::Int64 => col.as_primitive::<Int64Type>().value(i) as f64,
        DataType::UInt8 => col.as_primitive::<UInt8Type>().value(i) as f64,
        DataType::UInt16 => col.as_primitive::<UInt16Type>().value(i) as f64,
        DataType::UInt32 => col.as_primitive::<UInt32Type>().value(i) as f64,
        DataType::UInt64 => col.as_primitive::<UInt64Type>().value(i) as f64,
        DataType::Float32 => col.as_primitive::<Float32Type>().value(i) as f64,
        DataType::Float64 => col.as_primitive::<Float64Type>().value(i),
        DataType::Decimal128(_, s) => {
            col.as_primitive::<Decimal128Type>().value(i) as f64 / 10f64.powi(*s as i32)
        }
        DataType::Boolean => col.as_boolean().value(i) as u8 as f64,
        _ => return None,
    })
}

fn to_f64(values: &ArrayRef) -> Vec<Option<f64>> {
    (0..values.len()).map(|i| number_at(values, i)).collect()
}

/// How many distinct timestamps the series have together.
fn distinct_times(series: &[Series]) -> u64 {
    let mut all: Vec<i64> = series.iter().flat_map(|s| s.time.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    all.len() as u64
}

/// The fill grid's step (ms): the interval, widened so the range has at most max data points.
fn fill_step_ms(opts: &TsOptions) -> i64 {
    let range_ms = opts.to_ms.saturating_sub(opts.from_ms).max(0);
    let max_points = opts.max_data_points.max(1);
    opts.interval_ms
        .max(1)
        .max(range_ms / max_points + i64::from(range_ms % max_points != 0))
}

/// Grid points the fill adds at most per series.
fn fill_points(opts: &TsOptions) -> u64 {
    let range_ms = opts.to_ms.saturating_sub(opts.from_ms).max(0);
    (range_ms / fill_step_ms(opts)) as u64 + 2
}

/// Every series gets every timestamp any series has; missing values are null.
fn nullify_sparse(series: &mut [Series]) {
    let mut all: Vec<i64> = series.iter().flat_map(|s| s.time.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    for s in series.iter_mut() {
        if s.time.len() == all.len() {
            continue;
        }
        let vals = to_f64(&s.values);
        let by_time: HashMap<i64, Option<f64>> = s.time.iter().copied().zip(vals).collect();
        s.values = Arc::new(Float64Array::from(
            all.iter()
                .map(|t| by_time.get(t).copied().flatten())
                .collect::<Vec<_>>(),
        ));
        s.time = all.clone();
    }
}

fn post_process(shaped: Shaped, opts: &TsOptions) -> Shaped {
    let fix = |time: Vec<i64>, values: ArrayRef| -> (Vec<i64>, ArrayRef) {
        if *values.data_type() == DataType::Boolean && opts.fill == Fill::None {
            return (time, values);
        }
        let mut vals = to_f64(&values);
        let mut time = time;
        if opts.extrapolate && opts.till_now {
            extrapolate(&time, &mut vals, opts);
        }
        if opts.fill != Fill::None {
            (time, vals) = fill(&time, &vals, opts);
        }
        (time, Arc::new(Float64Array::from(vals)) as ArrayRef)
    };
    match shaped {
        Shaped::Multi(series) => Shaped::Multi(
            series
                .into_iter()
                .map(|s| {
                    let (time, values) = fix(s.time, s.values);
                    Series { time, values, ..s }
                })
                .collect(),
        ),
        Shaped::Wide {
            time_name,
            time,
            values,
        } => {
            if opts.fill == Fill::None {
                let values = values
                    .into_iter()
                    .map(|(n, v)| (n, fix(time.clone(), v).1))
                    .collect();
                return Shaped::Wide {
                    time_name,
                    time,
                    values,
                };
            }
            let mut new_time = time.clone();
            let values = values
                .into_iter()
                .map(|(n, v)| {
                    let (t, v) = fix(time.clone(), v);
                    new_time = t;
                    (n, v)
                })
                .collect();
            Shaped::Wide {
                time_name,
                time: new_time,
                values,
            }
        }
    }
}

/// Altinity's last-point extrapolation: when the range ends inside the last bucket (a relative
/// range ending now), the last point covers only part of its interval; replace it with the
/// previous point's value adjusted by a tenth of the last observed relative change (and the
/// first point likewise when it is a zero produced by `runningDifference` at the left border).
fn extrapolate(time: &[i64], vals: &mut [Option<f64>], opts: &TsOptions) {
    let n = vals.len();
    if n < 10 {
        return;
    }
    let to_s = opts.to_ms as f64 / 1e3;
    let from_s = opts.from_ms as f64 / 1e3;
    let t = |i: usize| time[i] as f64 / 1e9;
    let average = (t(n - 1) - t(0)) / (n - 1) as f64;
    let step = |a: Option<f64>, b: Option<f64>| -> f64 {
        match (a, b) {
            (Some(a), Some(b)) if a != 0.0 => (((a - b) / a) * 0.1) % 1.0,
            _ => 0.0,
        }
    };
    if t(0) - from_s < average
        && vals[0] == Some(0.0)
        && let Some(v1) = vals[1]
    {
        vals[0] = Some(v1 * (1.0 + step(vals[1], vals[2])));
    }
    if to_s - t(n - 1) < average
        && let Some(prev) = vals[n - 2]
    {
        vals[n - 1] = Some(prev * (1.0 + step(vals[n - 2], vals[n - 3])));
    }
}

/// Fills grid points of `[from, to]` that have no value; existing points are kept.
fn fill(time: &[i64], vals: &[Option<f64>], opts: &TsOptions) -> (Vec<i64>, Vec<Option<f64>>) {
    let step_ms = fill_step_ms(opts);
    let step = step_ms.saturating_mul(1_000_000);
    let start = opts.from_ms.saturating_mul(1_000_000).div_euclid(step) * step;
    let end = opts.to_ms.saturating_mul(1_000_000);
    let mut out_t = Vec::with_capacity(time.len() + fill_points(opts) as usize);
    let mut out_v = Vec::with_capacity(out_t.capacity());
    let mut i = 0;
    let mut grid = start;
    let mut last: Option<f64> = None;
    let filler = |last: Option<f64>| match opts.fill {
        Fill::Null | Fill::None => None,
        Fill::Zero => Some(0.0),
        Fill::Previous => last,
        Fill::Value(v) => Some(v),
    };
    while grid <= end || i < time.len() {
        if i < time.len() && (time[i] <= grid || grid > end) {
            if time[i] == grid {
                grid += step;
            }
            out_t.push(time[i]);
            out_v.push(vals[i]);
            if vals[i].is_some() {
                last = vals[i];
            }
            i += 1;
        } else {
            out_t.push(grid);
            out_v.push(filler(last));
            grid += step;
        }
    }
    (out_t, out_v)
}

/// Converts booleans to a Grafana-friendly value array unchanged; exposed for tests.
#[cfg(test)]
fn bools(v: &[bool]) -> ArrayRef {
    Arc::new(arrow_array::BooleanArray::from(v.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{Field, Schema};

    fn opts() -> TsOptions {
        TsOptions {
            fill: Fill::None,
            from_ms: 0,
            to_ms: 10_000,
            interval_ms: 1_000,
            max_data_points: 1_000,
            extrapolate: false,
            till_now: false,
            nullify_sparse: false,
            ms_column_t: false,
            max_points: u64::MAX,
            max_points_from: "maxResultRows",
        }
    }

    fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let fields: Vec<Field> = cols
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            cols.into_iter().map(|(_, a)| a).collect(),
        )
        .unwrap()
    }

    fn ts(v: &[i64]) -> ArrayRef {
        Arc::new(arrow_array::TimestampNanosecondArray::from(
            v.iter().map(|s| s * 1_000_000_000).collect::<Vec<_>>(),
        ))
    }

    #[test]
    fn labels_split_series_and_sort_by_time() {
        let b = batch(vec![
            ("time", ts(&[2, 1, 1, 2])),
            ("svc", Arc::new(StringArray::from(vec!["a", "a", "b", "b"]))),
            (
                "n",
                Arc::new(arrow_array::UInt64Array::from(vec![20, 10, 30, 40])),
            ),
        ]);
        let (Shaped::Multi(series), _) = shape(&b, &[], &opts()).unwrap() else {
            panic!("multi")
        };
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].labels["svc"], "a");
        assert_eq!(series[0].display_name.as_deref(), Some("a"));
        assert_eq!(series[0].time, vec![1_000_000_000, 2_000_000_000]);
        assert_eq!(
            series[0].values.as_primitive::<UInt64Type>().values(),
            &[10, 20]
        );
        assert_eq!(
            series[1].values.as_primitive::<UInt64Type>().values(),
            &[30, 40]
        );
    }

    #[test]
    fn duplicates_name_the_labels() {
        let b = batch(vec![
            ("time", ts(&[1, 1])),
            ("svc", Arc::new(StringArray::from(vec!["a", "a"]))),
            ("n", Arc::new(Float64Array::from(vec![1.0, 2.0]))),
        ]);
        let e = shape(&b, &[], &opts()).unwrap_err();
        assert!(e.to_string().contains(r#"{svc="a"}"#), "{e}");
    }

    #[test]
    fn no_labels_is_one_wide_frame() {
        let b = batch(vec![
            ("time", ts(&[3, 1, 2])),
            ("a", Arc::new(Float64Array::from(vec![3.0, 1.0, 2.0]))),
            ("ok", bools(&[true, false, true])),
        ]);
        let (Shaped::Wide { time, values, .. }, _) = shape(&b, &[], &opts()).unwrap() else {
            panic!("wide")
        };
        assert_eq!(time, vec![1_000_000_000, 2_000_000_000, 3_000_000_000]);
        assert_eq!(
            values[0].1.as_primitive::<Float64Type>().values(),
            &[1.0, 2.0, 3.0]
        );
        assert!(!values[1].1.as_boolean().value(0));
    }

    #[test]
    fn fill_modes_on_the_interval_grid() {
        let b = batch(vec![
            ("time", ts(&[0, 3])),
            ("v", Arc::new(Float64Array::from(vec![1.0, 4.0]))),
        ]);
        let mut o = opts();
        o.to_ms = 4_000;
        for (fill, expected) in [
            (Fill::Null, vec![Some(1.0), None, None, Some(4.0), None]),
            (
                Fill::Zero,
                vec![Some(1.0), Some(0.0), Some(0.0), Some(4.0), Some(0.0)],
            ),
            (
                Fill::Previous,
                vec![Some(1.0), Some(1.0), Some(1.0), Some(4.0), Some(4.0)],
            ),
        ] {
            o.fill = fill;
            let (Shaped::Wide { time, values, .. }, _) = shape(&b, &[], &o).unwrap() else {
                panic!()
            };
            assert_eq!(time.len(), 5, "{fill:?}");
            let got: Vec<Option<f64>> = to_f64(&values[0].1);
            assert_eq!(got, expected, "{fill:?}");
        }
    }

    #[test]
    fn fill_is_bounded_by_max_data_points() {
        let b = batch(vec![
            ("time", ts(&[0])),
            ("v", Arc::new(Float64Array::from(vec![1.0]))),
        ]);
        let mut o = opts();
        o.fill = Fill::Zero;
        o.to_ms = 3_600_000;
        o.interval_ms = 1;
        o.max_data_points = 100;
        let (Shaped::Wide { time, .. }, _) = shape(&b, &[], &o).unwrap() else {
            panic!()
        };
        assert!(time.len() <= 102, "{}", time.len());
    }

    #[test]
    fn altinity_t_in_milliseconds_and_nullify_sparse() {
        let keys = Arc::new(StringArray::from(vec!["a", "b", "a"]));
        let b = batch(vec![
            (
                "t",
                Arc::new(arrow_array::UInt64Array::from(vec![1000, 1000, 2000])),
            ),
            ("k", keys),
            ("c", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]))),
        ]);
        let mut o = opts();
        o.ms_column_t = true;
        o.nullify_sparse = true;
        let (Shaped::Multi(series), _) = shape(&b, &[], &o).unwrap() else {
            panic!()
        };
        let b_series = series.iter().find(|s| s.labels["k"] == "b").unwrap();
        assert_eq!(b_series.time, vec![1_000_000_000, 2_000_000_000]);
        assert_eq!(to_f64(&b_series.values), vec![Some(2.0), None]);
    }

    #[test]
    fn extrapolation_replaces_a_partial_last_bucket() {
        let times: Vec<i64> = (0..10).collect();
        let vals: Vec<f64> = vec![10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 1.0];
        let b = batch(vec![
            ("time", ts(&times)),
            ("v", Arc::new(Float64Array::from(vals))),
        ]);
        let mut o = opts();
        o.extrapolate = true;
        o.till_now = true;
        o.to_ms = 9_500;
        let (Shaped::Wide { values, .. }, _) = shape(&b, &[], &o).unwrap() else {
            panic!()
        };
        assert_eq!(to_f64(&values[0].1)[9], Some(10.0));
        o.till_now = false;
        let (Shaped::Wide { values, .. }, _) = shape(&b, &[], &o).unwrap() else {
            panic!()
        };
        assert_eq!(to_f64(&values[0].1)[9], Some(1.0));
    }

    #[test]
    fn no_time_or_no_value_are_clear_errors() {
        let b = batch(vec![(
            "svc",
            Arc::new(StringArray::from(vec!["a"])) as ArrayRef,
        )]);
        assert!(matches!(
            shape(&b, &[], &opts()),
            Err(FrameError::Shape(ShapeError::NoTime(_)))
        ));
        let b = batch(vec![
            ("time", ts(&[1])),
            ("svc", Arc::new(StringArray::from(vec!["a"]))),
        ]);
        assert!(matches!(
            shape(&b, &[], &opts()),
            Err(FrameError::Shape(ShapeError::NoValue(_)))
        ));
    }

    /// Batch-by-batch grouping gives the series a naive grouping of all rows gives: labels of
    /// every length (the interner's short and long paths, values at the very end of a buffer),
    /// nulls, two label columns, times out of order, any split into batches.
    #[test]
    fn grouping_across_batches_matches_a_naive_grouping() {
        let texts = [
            "",
            "a",
            "svc-1",
            "svc-12",
            "exactly8",
            "nine char",
            "a much longer label value",
            "a much longer label valuf",
            "é",
            "Ω-ω",
        ];
        let n = 3_000usize;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let rows: Vec<(i64, Option<&str>, &str, f64)> = (0..n)
            .map(|i| {
                let r = next();
                let a = (r % 11 != 0).then(|| texts[(r >> 8) as usize % texts.len()]);
                let b = texts[(r >> 20) as usize % 3];
                // Distinct times per row, shuffled: (i * 7919) mod n is a permutation.
                (((i * 7919) % n) as i64, a, b, i as f64)
            })
            .collect();
        let mut naive: BTreeMap<(String, String), Vec<(i64, f64)>> = BTreeMap::new();
        for &(t, a, b, v) in &rows {
            naive
                .entry((a.unwrap_or("").to_owned(), b.to_owned()))
                .or_default()
                .push((t * 1_000_000_000, v));
        }
        for points in naive.values_mut() {
            points.sort_by_key(|p| p.0);
        }
        let make = |rows: &[(i64, Option<&str>, &str, f64)]| {
            batch(vec![
                ("time", ts(&rows.iter().map(|r| r.0).collect::<Vec<_>>())),
                (
                    "a",
                    Arc::new(StringArray::from(
                        rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                    )),
                ),
                (
                    "b",
                    Arc::new(StringArray::from(
                        rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                    )),
                ),
                (
                    "v",
                    Arc::new(Float64Array::from(
                        rows.iter().map(|r| r.3).collect::<Vec<_>>(),
                    )),
                ),
                // Nullable: reordered by Arrow's take instead of the direct scatter.
                (
                    "w",
                    Arc::new(arrow_array::Int64Array::from(
                        rows.iter()
                            .map(|r| (r.3 as i64 % 5 != 0).then_some(r.3 as i64))
                            .collect::<Vec<_>>(),
                    )),
                ),
                // Nulls only from row 1500: scattered directly, then turned into pieces.
                (
                    "x",
                    Arc::new(arrow_array::UInt64Array::from(
                        rows.iter()
                            .map(|r| {
                                (r.3 < 1500.0 || !(r.3 as u64).is_multiple_of(7))
                                    .then_some(r.3 as u64)
                            })
                            .collect::<Vec<_>>(),
                    )),
                ),
            ])
        };
        for splits in [vec![n], vec![1, 999, 2000], vec![700; 5]] {
            let first = make(&rows[..1]);
            let mut shaper = Shaper::new(first.schema(), &[], &opts()).unwrap();
            let mut at = 0;
            for len in splits {
                let end = (at + len).min(n);
                // Each batch gets its own buffers, so short values sit at buffer ends too.
                shaper.push(&make(&rows[at..end])).unwrap();
                at = end;
            }
            let (Shaped::Multi(series), _) = shaper.finish().unwrap() else {
                panic!("multi")
            };
            assert_eq!(series.len(), 3 * naive.len());
            for s in series.iter().filter(|s| s.name != "v") {
                let got = to_f64(&s.values);
                let v = &naive[&(s.labels["a"].clone(), s.labels["b"].clone())];
                let expected: Vec<Option<f64>> = v
                    .iter()
                    .map(|p| match s.name.as_str() {
                        "w" => (p.1 as i64 % 5 != 0).then_some(p.1),
                        _ => (p.1 < 1500.0 || !(p.1 as u64).is_multiple_of(7)).then_some(p.1),
                    })
                    .collect();
                assert_eq!(got, expected, "{}", s.name);
            }
            let got: BTreeMap<(String, String), Vec<(i64, f64)>> = series
                .iter()
                .filter(|s| s.name == "v")
                .map(|s| {
                    let vals = to_f64(&s.values);
                    (
                        (s.labels["a"].clone(), s.labels["b"].clone()),
                        s.time
                            .iter()
                            .zip(vals)
                            .map(|(&t, v)| (t, v.unwrap()))
                            .collect(),
                    )
                })
                .collect();
            assert_eq!(got, naive);
        }
    }
}
