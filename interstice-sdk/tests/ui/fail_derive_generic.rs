use interstice_sdk::IntersticeType;

#[derive(IntersticeType)]
pub struct Wrapper<T> {
    pub inner: T,
}

fn main() {}
