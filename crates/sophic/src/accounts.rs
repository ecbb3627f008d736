//! Accounts: cash balances and positions (and, through [`AccountHandler::orders`], orders).

pub use sophic_client::types::{CashBalance, Currency, Position};

#[cfg(feature = "client")]
pub use handler::AccountHandler;

#[cfg(feature = "client")]
mod handler {
    use futures::FutureExt as _;
    use sophic_client::types::{CashBalance, Position, UpdatePositionRequest};

    use crate::client::{Client, Safety};
    use crate::orders::OrdersHandler;
    use crate::{AccountId, Result};

    /// One account; from [`Client::account`].
    #[derive(Debug, Clone)]
    pub struct AccountHandler {
        client: Client,
        account: AccountId,
    }

    impl AccountHandler {
        pub(crate) fn new(client: Client, account: AccountId) -> Self {
            Self { client, account }
        }

        /// One balance per currency held: `total`, `available` (less what open buys
        /// reserve) and `reserved`.
        pub async fn cash_balances(&self) -> Result<Vec<CashBalance>> {
            let account = &self.account;
            self.client
                .send(
                    sophic_client::Operation::LIST_CASH_BALANCES.id,
                    Safety::Idempotent,
                    |api| api.list_cash_balances().account_id(account).send().boxed(),
                )
                .await
        }

        /// One position per instrument held: `quantity` and `available_quantity` (less what
        /// open sells reserve).
        pub async fn positions(&self) -> Result<Vec<Position>> {
            let account = &self.account;
            self.client
                .send(
                    sophic_client::Operation::LIST_POSITIONS.id,
                    Safety::Idempotent,
                    |api| api.list_positions().account_id(account).send().boxed(),
                )
                .await
        }

        /// Turns automatic rollover on or off for one position (bills only; refused within
        /// 4 calendar days of maturity with `invalid_param` on `body.automatic_rollover`).
        /// The change is a plain update, safe to repeat, so it is retried like a read.
        pub async fn set_automatic_rollover(&self, position: &str, on: bool) -> Result<Position> {
            let account = &self.account;
            let body = UpdatePositionRequest::from(
                sophic_client::types::exhaustive::UpdatePositionRequest {
                    automatic_rollover: on,
                },
            );
            self.client
                .send(
                    sophic_client::Operation::UPDATE_POSITION.id,
                    Safety::Idempotent,
                    |api| {
                        api.update_position()
                            .account_id(account)
                            .position_id(position)
                            .body(body.clone())
                            .send()
                            .boxed()
                    },
                )
                .await
        }

        /// The account's orders.
        pub fn orders(&self) -> OrdersHandler {
            self.client.orders(&self.account)
        }
    }
}
