//! Connection params a provider names only with the grant: a field of its token
//! answer (Salesforce's `instance_url`, read by the host from the answer itself) or
//! of a call made with the new token (Atlassian's accessible resources, Basecamp's
//! accounts). Each value passes its param's pattern like a typed one, so the
//! provider's answer can move a URL only where the entry's template allows.

use crate::catalog::{ParamError, ParamSource, ParamValues, params, serving};
use crate::error::EngineResult;
use crate::flows::Flows;
use crate::model::integration::Integration;
use crate::plugins::{IssuedTokens, Plugin};

impl Flows {
    /// `values` with the params that come from the grant `issued` added, read from
    /// its token answer first, then from the calls their entries name.
    pub(super) async fn params_from_grant(
        &self,
        plugin: &Plugin,
        found: &Integration,
        mut values: ParamValues,
        issued: &IssuedTokens,
    ) -> EngineResult<ParamValues> {
        let declared = serving::connection_params(&found.config);
        let missing = |name: &str| ParamError::Missing(name.to_owned());
        for param in declared.iter().filter(|p| p.from == ParamSource::Token) {
            let field = param.field.as_deref().unwrap_or(&param.name);
            let raw = issued.fields.get(field).ok_or_else(|| missing(&param.name))?;
            values.insert(param.name.clone(), params::accept(param, raw)?);
        }
        for param in declared.iter().filter(|p| p.from == ParamSource::Call) {
            let (Some(url), Some(field)) = (&param.url, &param.field) else {
                return Err(missing(&param.name).into());
            };
            let known: Vec<String> = values.keys().cloned().collect();
            let url = params::fill(url, &known, &values)?;
            let target = self.providers.target(found, &values).await?;
            let answer = plugin.read_with_token(&target, &url, &issued.access_token).await?;
            let raw = params::pick(&answer, field).ok_or_else(|| missing(&param.name))?;
            values.insert(param.name.clone(), params::accept(param, &raw)?);
        }
        Ok(values)
    }
}
