/// A connection as stored, read back from the table. Only what this endpoint needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub connection_id: String,
    pub client_id: String,
    pub customer_id: String,
    pub retailer_id: String,
    pub status: String,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub token_sha256: String,
    pub token_scopes: Vec<String>,
    pub token_expires_at: Option<u64>,
    pub version: u64,
    /// The Lambda request ids of the latest writes, newest first: a retried attempt of
    /// the same request finds its own id here and is answered instead of writing again.
    pub recent_request_ids: Vec<String>,
}

/// The six members a caller sees: email and mobile are `null` when absent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectionView<'a> {
    pub connection_id: &'a str,
    pub customer_id: &'a str,
    pub retailer_id: &'a str,
    pub status: &'a str,
    pub email: Option<&'a str>,
    pub mobile: Option<&'a str>,
}

impl Connection {
    pub fn view(&self) -> ConnectionView<'_> {
        ConnectionView {
            connection_id: &self.connection_id,
            customer_id: &self.customer_id,
            retailer_id: &self.retailer_id,
            status: &self.status,
            email: self.email.as_deref(),
            mobile: self.mobile.as_deref(),
        }
    }
}
