//! Page data: the home page's list and one sale. During SSR it is read
//! in-process through the ports of [`crate::ssr`]; in the browser (after a
//! navigation) from the public routes `GET /api/sales` and `GET /api/sales/{id}`,
//! which answer the same shapes. Resources carry it from the server's render to
//! hydration (`Resource::new_serde_wb`: parsed by the browser's `JSON.parse`).
//! An error is the message a page may show. (In the browser the request's
//! future is not `Send`, as a resource's must be: it is wrapped, which is sound
//! on the browser's one thread.)

use crate::api::{Sale, SaleListing};

/// The sales of the home page.
pub async fn list_sales() -> Result<Vec<SaleListing>, String> {
    #[cfg(feature = "ssr")]
    {
        let ports = crate::ssr::ports()?;
        ports
            .catalog
            .listings()
            .await
            .map_err(crate::ssr::unavailable)
    }
    #[cfg(not(feature = "ssr"))]
    {
        send_wrapper::SendWrapper::new(crate::endpoints::sales())
            .await?
            .body
            .map_err(|error| error.message)
    }
}

/// One sale for its page; `None` when it does not exist (the page answers 404).
pub async fn get_sale(id: i64) -> Result<Option<Sale>, String> {
    #[cfg(feature = "ssr")]
    {
        let ports = crate::ssr::ports()?;
        ports
            .catalog
            .sale(id)
            .await
            .map_err(crate::ssr::unavailable)
    }
    #[cfg(not(feature = "ssr"))]
    {
        let reply = send_wrapper::SendWrapper::new(crate::endpoints::sale(id)).await?;
        if reply.status == 404 {
            return Ok(None);
        }
        reply.body.map(Some).map_err(|error| error.message)
    }
}
