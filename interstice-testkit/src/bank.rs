//! Arguments for `modules/test_persistence`'s reducers, encoded as a
//! runtime call takes them: the tests that build a bank's history share
//! them.

use interstice_abi::{Value, encode_value};

/// Encoded arguments: a struct of `values`, in parameter order.
pub fn args(values: Vec<Value>) -> Vec<u8> {
    encode_value(&Value::Struct(values)).unwrap()
}

/// `open(id, owner, balance)`.
pub fn open(id: u64, owner: &str, balance: i64) -> Vec<u8> {
    args(vec![
        Value::U64(id),
        Value::String(owner.into()),
        Value::I64(balance),
    ])
}

/// `transfer(from, to, amount)`.
pub fn transfer(from: u64, to: u64, amount: i64) -> Vec<u8> {
    args(vec![Value::U64(from), Value::U64(to), Value::I64(amount)])
}
