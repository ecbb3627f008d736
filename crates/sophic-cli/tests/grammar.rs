//! One decimal grammar everywhere (contract section 1): for each string, the spec's
//! `pattern`, the SDK's `Amount`, the CLI's `--cash` and the sandbox give the same verdict,
//! and a malformed amount changes no balance. A fixed table of cases people write, then
//! strings drawn from the characters amounts are made of.

use std::process::Command;

use serde_json::{Value, json};
use sophic_sandbox::{AccountSpec, Sandbox, SandboxConfig, TestAccount};

/// Well-formed cash amounts (greater than 0, at most 2 decimals) and malformed ones.
const TABLE: [(&str, bool); 34] = [
    ("100", true),
    ("100.00", true),
    ("100.5", true),
    ("0.01", true),
    ("0.1", true),
    ("0.10", true),
    ("007", true),
    ("00.50", true),
    ("1", true),
    ("12345678.90", true),
    ("999999", true),
    ("10.0", true),
    ("0", false),
    ("0.00", false),
    ("0.0", false),
    ("00", false),
    ("-1", false),
    ("-0.50", false),
    ("+100", false),
    ("1e2", false),
    ("1E2", false),
    ("1_000", false),
    ("1,000", false),
    (" 100", false),
    ("100 ", false),
    ("100.", false),
    (".5", false),
    ("100.005", false),
    ("1.2.3", false),
    ("", false),
    ("NaN", false),
    ("Infinity", false),
    ("0x10", false),
    ("１００", false),
];

struct Rig {
    sandbox: Sandbox,
    account: TestAccount,
    http: reqwest::Client,
}

impl Rig {
    async fn new() -> Self {
        let sandbox = Sandbox::start(SandboxConfig::held()).await.unwrap();
        let account = sandbox
            .create_account(&AccountSpec::usd("100000000000.00"))
            .unwrap();
        Self {
            sandbox,
            account,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, tail: &str) -> String {
        format!(
            "{}/accounts/{}/{tail}",
            self.sandbox.base_url(),
            self.account.id
        )
    }

    /// The sandbox's verdict on the grammar: `false` when it refuses `cash_amount` as
    /// malformed (400, `body.cash_amount`, `invalid`). A refusal for state (the
    /// instrument's minimum or increment) is not about the grammar.
    async fn sandbox_accepts(&self, cash: &str) -> bool {
        let body = json!({"instrument": "ins_xyz789", "order_type": "market", "side": "buy",
                          "cash_amount": cash});
        let answer = self
            .http
            .post(self.url("orders"))
            .bearer_auth(&self.account.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap();
        let malformed = status == 400
            && body["params"].as_array().is_some_and(|params| {
                params
                    .iter()
                    .any(|p| p["path"] == "body.cash_amount" && p["code"] == "invalid")
            });
        assert!(
            status == 201 || status == 400,
            "{cash:?}: unexpected {status} {body}"
        );
        !malformed
    }

    async fn balances(&self) -> Value {
        self.http
            .get(self.url("cash-balances"))
            .bearer_auth(&self.account.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The CLI's verdict: `false` when `--cash` is refused as a usage error naming it.
    async fn cli_accepts(&self, cash: &str) -> bool {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sophic"));
        command
            .args([
                "orders",
                "buy",
                "--instrument",
                "ins_xyz789",
                "--cash",
                cash,
                "--json",
            ])
            .env("SOPHIC_BASE_URL", self.sandbox.base_url())
            .env("SOPHIC_TOKEN", &self.account.token)
            .env("SOPHIC_ACCOUNT", &self.account.id)
            .env("NO_COLOR", "1");
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        !(output.status.code() == Some(2) && stderr.contains("--cash"))
    }
}

fn spec_accepts(cash: &str) -> bool {
    sophic_client::matches_decimal_schema("CashAmount", cash).expect("the spec has CashAmount")
}

fn sdk_accepts(cash: &str) -> bool {
    cash.parse::<sophic::Amount>().is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_spec_the_sdk_the_cli_and_the_sandbox_agree_on_every_amount_of_the_table() {
    let rig = Rig::new().await;
    let mut disagreements = Vec::new();
    for (cash, well_formed) in TABLE {
        let before = rig.balances().await;
        let verdicts = [
            spec_accepts(cash),
            sdk_accepts(cash),
            rig.cli_accepts(cash).await,
            rig.sandbox_accepts(cash).await,
        ];
        if verdicts != [well_formed; 4] {
            disagreements.push(format!(
                "{cash:?}: expected {well_formed}, spec/sdk/cli/sandbox said {verdicts:?}"
            ));
        }
        if !well_formed {
            assert_eq!(
                rig.balances().await,
                before,
                "{cash:?} was refused yet moved a balance"
            );
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_spec_the_sdk_and_the_sandbox_agree_on_drawn_strings() {
    let rig = Rig::new().await;
    // A fixed-seed draw (xorshift), so a failure names a string that reproduces.
    let alphabet: Vec<char> = "0123456789.0.1-+e_ ".chars().collect();
    let mut state: u64 = 0x5eed_2026_1201;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut disagreements = Vec::new();
    let mut accepted = 0;
    for _ in 0..300 {
        let len = (next() % 9) as usize;
        let cash: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let verdicts = [
            spec_accepts(&cash),
            sdk_accepts(&cash),
            rig.sandbox_accepts(&cash).await,
        ];
        accepted += usize::from(verdicts[0]);
        if verdicts.iter().any(|v| *v != verdicts[0]) {
            disagreements.push(format!("{cash:?}: spec/sdk/sandbox said {verdicts:?}"));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    // The draw reaches both sides of the grammar.
    assert!(
        (30..270).contains(&accepted),
        "{accepted} of 300 drawn strings were well formed"
    );
}
