//! Each function crate declares its routes once, in a [`Routes`] table of API Gateway route keys
//! (`GET /users/{profileId}`). Lambda dispatches on the event's `routeKey`, with the path parameters API
//! Gateway read from the path; the local server builds its router from the same tables and sets both the
//! same way; the template test compares the template's routes with them.

use futures::future::BoxFuture;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use switchboard::Error;

use crate::http::{self, Family};

/// What a route's handler answers: a response, or the error its family's envelope renders.
pub type Answer<'a> = BoxFuture<'a, Result<Response<Body>, Error>>;

/// A handler over the function's state. Built by [`route!`](crate::route!), which reads the path parameters
/// the route key names.
pub type Handler<S> = for<'a> fn(&'a S, &'a Request) -> Answer<'a>;

/// One API Gateway route of a function.
pub struct Route<S: 'static> {
    /// API Gateway's route key: the method, a space and the path with `{parameters}`.
    pub key: &'static str,
    pub handler: Handler<S>,
    /// The family whose envelope its errors use, when not the table's.
    family: Option<Family>,
    /// The 500 message, when not the generic one (the user service names the operation that failed).
    failure: &'static str,
}

impl<S> Route<S> {
    pub const fn new(key: &'static str, handler: Handler<S>) -> Self {
        Self {
            key,
            handler,
            family: None,
            failure: http::INTERNAL_MESSAGE,
        }
    }

    /// Errors in `family`'s envelope instead of the table's.
    pub const fn family(mut self, family: Family) -> Self {
        self.family = Some(family);
        self
    }

    /// A 500 answered with `message` (the cause is logged, never sent).
    pub const fn failure(mut self, message: &'static str) -> Self {
        self.failure = message;
        self
    }

    /// The method of the route key.
    pub fn method(&self) -> &'static str {
        self.key.split_once(' ').map_or(self.key, |(m, _)| m)
    }

    /// The path of the route key, in API Gateway's syntax.
    pub fn path(&self) -> &'static str {
        self.key.split_once(' ').map_or("", |(_, p)| p)
    }
}

/// A function's routes and the family its errors use.
pub struct Routes<S: 'static> {
    pub family: Family,
    pub routes: &'static [Route<S>],
}

impl<S> Routes<S> {
    /// Answers `request` with the route its `routeKey` names; a key this function does not serve is 404 in
    /// the family's envelope (API Gateway sends none: its own router chose this function).
    pub async fn dispatch(&self, state: &S, request: Request) -> Response<Body> {
        let Some(route) = route_key(&request).and_then(|key| self.find(key)) else {
            return http::error(self.family, Error::NotFound("Not Found".into()));
        };
        match (route.handler)(state, &request).await {
            Ok(response) => response,
            Err(e) => http::error_as(route.family.unwrap_or(self.family), e, route.failure),
        }
    }

    /// The family whose envelope the route `key`'s errors use.
    pub fn family_of(&self, key: &str) -> Family {
        self.find(key)
            .and_then(|route| route.family)
            .unwrap_or(self.family)
    }

    pub fn find(&self, key: &str) -> Option<&Route<S>> {
        self.routes.iter().find(|r| r.key == key)
    }

    /// Every route key, as the template and the local server list them.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.routes.iter().map(|r| r.key)
    }
}

/// The route key API Gateway matched (`GET /users/{profileId}`), from the request context.
pub fn route_key(request: &Request) -> Option<&str> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.route_key.as_deref(),
        _ => None,
    }
}

/// The request as API Gateway hands it over for `key`: the route key in its context, the path parameters
/// (percent-decoded, as API Gateway decodes them) beside it. What the local server and the tests build.
pub fn matched(
    request: Request,
    key: &str,
    path_parameters: std::collections::HashMap<String, String>,
) -> Request {
    let mut context =
        lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(key.to_owned());
    request
        .with_request_context(RequestContext::ApiGatewayV2(context))
        .with_path_parameters(path_parameters)
}

/// One [`Route`]: its key and its handler, called with the state, the request and then each path parameter
/// the key names, in order (`route!("GET /users/{profileId}", get_user(profileId))` calls
/// `get_user(state, request, profile_id)`).
#[macro_export]
macro_rules! route {
    ($key:literal, $($handler:ident)::+ $(( $($param:ident),* ))?) => {
        $crate::route::Route::new($key, |state, request| {
            ::std::boxed::Box::pin(async move {
                $($(
                    #[allow(non_snake_case)]
                    let $param = $crate::request::path_param(request, stringify!($param))?;
                )*)?
                $($handler)::+(state, request $($(, &$param)*)?).await
            })
        })
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Greeter(&'static str);

    async fn hello(greeter: &Greeter, _: &Request) -> Result<Response<Body>, Error> {
        Ok(http::text(200, greeter.0))
    }

    async fn user(_: &Greeter, _: &Request, id: &str) -> Result<Response<Body>, Error> {
        if id == "nobody" {
            return Err(Error::NotFound("User not found".into()));
        }
        Ok(http::text(200, id))
    }

    static ROUTES: Routes<Greeter> = Routes {
        family: Family::Users,
        routes: &[
            route!("GET /hello", hello),
            route!("GET /users/{userId}", user(userId)).family(Family::Server),
        ],
    };

    async fn call(key: &str, params: &[(&str, &str)]) -> (u16, String) {
        let params: HashMap<String, String> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let request = matched(Request::default(), key, params);
        let response = ROUTES.dispatch(&Greeter("hi"), request).await;
        let body = String::from_utf8(response.body().to_vec()).unwrap();
        (response.status().as_u16(), body)
    }

    #[tokio::test]
    async fn dispatches_on_the_route_key_with_its_path_parameters() {
        assert_eq!(call("GET /hello", &[]).await, (200, "hi".into()));
        assert_eq!(
            call("GET /users/{userId}", &[("userId", "a b")]).await,
            (200, "a b".into())
        );
        // The route's own family.
        assert_eq!(
            call("GET /users/{userId}", &[("userId", "nobody")]).await,
            (404, r#"{"detail":"User not found"}"#.into())
        );
        // A key the function does not serve, or no key at all: 404 in the table's family.
        let not_found = (404, r#"{"error":{"message":"Not Found"}}"#.into());
        assert_eq!(call("GET /other", &[]).await, not_found);
        let response = ROUTES.dispatch(&Greeter("hi"), Request::default()).await;
        assert_eq!(response.status(), 404);
    }

    #[test]
    fn a_key_is_a_method_and_a_path() {
        let route = &ROUTES.routes[1];
        assert_eq!((route.method(), route.path()), ("GET", "/users/{userId}"));
    }
}
