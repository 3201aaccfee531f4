//! The SDK's import of a record batch across the ABI, from a foreign
//! producer built from the fuzzer's bytes: lengths, offsets, null counts,
//! buffer counts, missing or misaligned buffers, variable-size offsets and
//! the root's own shape all come from the input. Buffers are as long as the
//! C Data Interface makes them for what the struct claims (that much an
//! importer must trust); everything else may lie.
//!
//! An accepted batch must be valid by Arrow's full check, and every struct
//! the producer made must be released exactly once, whether the import
//! succeeded or not.
#![no_main]

use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use arbitrary::{Result, Unstructured};
use arrow_array::Array;
use arrow_data::ffi::FFI_ArrowArray;
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use libfuzzer_sys::fuzz_target;
use topictable_sdk::abi::FfiArrowArray;

/// The C Data Interface's `ArrowArray`.
#[repr(C)]
struct CArray {
    length: i64,
    null_count: i64,
    offset: i64,
    n_buffers: i64,
    n_children: i64,
    buffers: *mut *const c_void,
    children: *mut *mut CArray,
    dictionary: *mut CArray,
    release: Option<unsafe extern "C" fn(*mut CArray)>,
    private_data: *mut c_void,
}

const _: () = assert!(size_of::<CArray>() == size_of::<FFI_ArrowArray>());

/// Structs made and not yet released (goes back to 0 after every input).
static LIVE: AtomicI64 = AtomicI64::new(0);

/// What a child owns: its buffers and the pointer array to them.
struct ChildData {
    _buffers: Vec<Vec<u8>>,
    _pointers: Vec<*const c_void>,
}

/// What the root owns: the child structs and the pointer arrays.
struct RootData {
    /// Not moved after the pointers to them are taken (a Vec's heap buffer
    /// stays where it is when the Vec moves).
    children: Vec<CArray>,
    _child_pointers: Vec<*mut CArray>,
    _buffer_pointers: Vec<*const c_void>,
}

unsafe extern "C" fn release_child(array: *mut CArray) {
    // SAFETY: the importer passes a child struct we built (or its moved
    // copy); private_data is the Box leaked in `child`, taken back once.
    let array = unsafe { &mut *array };
    assert!(!array.private_data.is_null(), "a child released twice");
    drop(unsafe { Box::from_raw(array.private_data.cast::<ChildData>()) });
    array.private_data = ptr::null_mut();
    array.release = None;
    LIVE.fetch_sub(1, Ordering::SeqCst);
}

unsafe extern "C" fn release_root(array: *mut CArray) {
    // SAFETY: as release_child, for the root built in `fuzz_target!`.
    let array = unsafe { &mut *array };
    assert!(!array.private_data.is_null(), "the root released twice");
    let mut data = unsafe { Box::from_raw(array.private_data.cast::<RootData>()) };
    for child in &mut data.children {
        // A child moved out by the importer is marked released in place.
        if let Some(release) = child.release {
            // SAFETY: an unreleased child we built.
            unsafe { release(child) };
        }
    }
    drop(data);
    array.private_data = ptr::null_mut();
    array.release = None;
    LIVE.fetch_sub(1, Ordering::SeqCst);
}

const TYPES: [DataType; 11] = [
    DataType::Int8,
    DataType::UInt16,
    DataType::Int32,
    DataType::Int64,
    DataType::Float64,
    DataType::Date32,
    DataType::Timestamp(TimeUnit::Microsecond, None),
    DataType::Boolean,
    DataType::Utf8,
    DataType::Binary,
    DataType::LargeUtf8,
];

/// Bytes that fill `len` bytes, from the input (zeros when it runs out).
fn bytes(u: &mut Unstructured, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let _ = u.fill_buffer(&mut out);
    out
}

/// One child of `rows` rows (before a fuzzed length) of `data_type`.
fn child(u: &mut Unstructured, data_type: &DataType, rows: i64) -> Result<CArray> {
    let offset = i64::from(u.int_in_range(0..=9u8)?);
    let length = if u.ratio(1, 16)? {
        u.int_in_range(-2..=rows + 2)?
    } else {
        rows
    };
    let slots = (offset + length.max(0)) as usize;
    let null_count = if u.ratio(1, 4)? {
        u.int_in_range(-1..=length.max(0))?
    } else {
        -1
    };
    let misalign = usize::from(u.ratio(1, 8)?);
    let mut buffers: Vec<Vec<u8>> = Vec::new();
    let mut validity = bytes(u, slots.div_ceil(8));
    if u.ratio(1, 3)? {
        validity.iter_mut().for_each(|b| *b = 0xff);
    }
    buffers.push(validity);
    match data_type {
        DataType::Boolean => buffers.push(bytes(u, slots.div_ceil(8))),
        DataType::Utf8 | DataType::Binary | DataType::LargeUtf8 => {
            let wide = matches!(data_type, DataType::LargeUtf8);
            let values_len = usize::from(u.int_in_range(0..=200u8)?);
            let mut offsets: Vec<i64> = Vec::with_capacity(slots + 1);
            let mut at = 0i64;
            for _ in 0..slots {
                offsets.push(at);
                at = if u.ratio(1, 12)? {
                    i64::from(u.arbitrary::<i16>()?)
                } else {
                    (at + i64::from(u.int_in_range(0..=8u8)?)).min(values_len as i64)
                };
            }
            offsets.push(values_len as i64);
            if u.ratio(1, 12)? {
                offsets[0] = i64::from(u.arbitrary::<i8>()?);
            }
            let mut raw = vec![0u8; misalign];
            for o in offsets {
                if wide {
                    raw.extend_from_slice(&o.to_ne_bytes());
                } else {
                    raw.extend_from_slice(&(o as i32).to_ne_bytes());
                }
            }
            buffers.push(raw);
            // ASCII, so that Arrow's full check (which reads UTF-8) judges
            // offsets and not text, which the import trusts.
            let values = bytes(u, values_len).iter().map(|b| b & 0x7f).collect();
            buffers.push(values);
        }
        other => {
            let width = other.primitive_width().expect("a primitive type");
            let mut raw = vec![0u8; misalign];
            raw.extend(bytes(u, slots * width));
            buffers.push(raw);
        }
    }
    // Offsets and fixed-width values start `misalign` bytes in.
    let skips = |i: usize| match (data_type, i) {
        (DataType::Boolean, _) | (_, 0) | (_, 2) => 0,
        _ => misalign,
    };
    let mut pointers: Vec<*const c_void> = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| b[skips(i)..].as_ptr().cast())
        .collect();
    let mut n_buffers = pointers.len() as i64;
    if u.ratio(1, 16)? {
        n_buffers = i64::from(u.int_in_range(0..=4u8)?);
        pointers.resize(pointers.len().max(n_buffers as usize), ptr::null());
    }
    if u.ratio(1, 8)? {
        let i = u.choose_index(pointers.len())?;
        pointers[i] = ptr::null();
    }
    let buffers_ptr = pointers.as_mut_ptr();
    let data = Box::new(ChildData {
        _buffers: buffers,
        _pointers: pointers,
    });
    LIVE.fetch_add(1, Ordering::SeqCst);
    Ok(CArray {
        length,
        null_count,
        offset,
        n_buffers,
        n_children: 0,
        buffers: buffers_ptr,
        children: ptr::null_mut(),
        dictionary: ptr::null_mut(),
        release: Some(release_child),
        private_data: Box::into_raw(data).cast(),
    })
}

fn run(u: &mut Unstructured) -> Result<()> {
    let columns = u.int_in_range(0..=4usize)?;
    let rows = i64::from(u.int_in_range(0..=40u8)?);
    let mut fields = Vec::new();
    let mut children = Vec::new();
    for i in 0..columns {
        let data_type = TYPES[u.choose_index(TYPES.len())?].clone();
        let nullable = !u.ratio(1, 4)?;
        match child(u, &data_type, rows) {
            Ok(c) => children.push(c),
            Err(_) => break,
        }
        fields.push(Field::new(format!("c{i}"), data_type, nullable));
    }
    // A column in the schema without a child, now and then.
    if u.ratio(1, 16).unwrap_or(false) {
        fields.push(Field::new("extra", DataType::Int32, true));
    }
    let schema = Arc::new(Schema::new(fields));
    let root_offset = if u.ratio(1, 8).unwrap_or(false) { 1 } else { 0 };
    let mut child_pointers: Vec<*mut CArray> = children.iter_mut().map(ptr::from_mut).collect();
    let mut buffer_pointers: Vec<*const c_void> = vec![ptr::null()];
    let root = CArray {
        length: (rows - root_offset).max(0),
        null_count: 0,
        offset: root_offset,
        n_buffers: 1,
        n_children: child_pointers.len() as i64,
        buffers: buffer_pointers.as_mut_ptr(),
        children: child_pointers.as_mut_ptr(),
        dictionary: ptr::null_mut(),
        release: Some(release_root),
        private_data: ptr::null_mut(),
    };
    let data = Box::new(RootData {
        children,
        _child_pointers: child_pointers,
        _buffer_pointers: buffer_pointers,
    });
    let root = CArray {
        private_data: Box::into_raw(data).cast(),
        ..root
    };
    LIVE.fetch_add(1, Ordering::SeqCst);
    // SAFETY: CArray is the C Data Interface's layout, as FFI_ArrowArray is
    // (sizes asserted above); every pointer in it stays valid until release.
    let ffi = unsafe { std::mem::transmute::<CArray, FFI_ArrowArray>(root) };
    if let Ok(batch) = FfiArrowArray::from_c_data(ffi).import_batch(&schema) {
        assert_eq!(batch.schema(), schema);
        for column in batch.columns() {
            column
                .to_data()
                .validate_full()
                .unwrap_or_else(|e| panic!("an imported column is not valid Arrow: {e}"));
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
    assert_eq!(
        LIVE.load(Ordering::SeqCst),
        0,
        "every struct the producer made is released exactly once"
    );
});
