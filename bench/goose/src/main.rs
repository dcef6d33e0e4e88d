//! GET / as fast as possible: what `bench/compare.sh` measures Goose with.
use goose::prelude::*;

async fn get(user: &mut GooseUser) -> TransactionResult {
    let _ = user.get("/").await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    GooseAttack::initialize()?
        .register_scenario(scenario!("bench").register_transaction(transaction!(get)))
        .execute()
        .await?;
    Ok(())
}
