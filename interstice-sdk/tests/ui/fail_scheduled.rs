use interstice_sdk::prelude::*;

#[table(name = "a", scheduled(reducer = "run"))]
pub struct NoWhen {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
}

#[table(name = "b", scheduled(reducer = "run"))]
pub struct NotAutoInc {
    #[primary_key]
    pub id: u64,
    pub at: ScheduleAt,
}

#[table(name = "c", scheduled(reduce = "run"))]
pub struct Typo {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    pub at: ScheduleAt,
}

fn main() {}
