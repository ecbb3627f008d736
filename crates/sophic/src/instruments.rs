//! Instruments: the bills and bonds that can be traded, with their trading rules.

pub use sophic_client::types::{
    Currency, Instrument, InstrumentType, RequiredCashIncrement, TradingStatus,
};

#[cfg(feature = "client")]
pub use handler::InstrumentsHandler;

#[cfg(feature = "client")]
mod handler {
    use futures::FutureExt as _;
    use sophic_client::types::Instrument;

    use crate::client::{Client, Safety};
    use crate::{InstrumentId, Result};

    /// The instrument catalogue; from [`Client::instruments`].
    #[derive(Debug, Clone)]
    pub struct InstrumentsHandler {
        client: Client,
    }

    impl InstrumentsHandler {
        pub(crate) fn new(client: Client) -> Self {
            Self { client }
        }

        /// Every instrument (the API does not page this list).
        pub async fn list(&self) -> Result<Vec<Instrument>> {
            self.client
                .send(
                    sophic_client::Operation::LIST_INSTRUMENTS.id,
                    Safety::Idempotent,
                    |api| api.list_instruments().send().boxed(),
                )
                .await
        }

        /// One instrument.
        pub async fn get(&self, instrument: &InstrumentId) -> Result<Instrument> {
            self.client
                .send(
                    sophic_client::Operation::GET_INSTRUMENT.id,
                    Safety::Idempotent,
                    |api| {
                        api.get_instrument()
                            .instrument_id(instrument)
                            .send()
                            .boxed()
                    },
                )
                .await
        }
    }
}
