//! B2 reference (b): a minimal actix-ws broadcast server without merging. Every text
//! message a client sends goes to every client as its own frame, through a bounded
//! per-connection channel (a full channel drops the frame, so a slow client cannot stall
//! the others). Usage: actix-broadcast ADDR

use std::cell::RefCell;
use std::rc::Rc;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::StreamExt;
use tokio::sync::mpsc;

type Clients = Rc<RefCell<Vec<(u64, mpsc::Sender<bytestring::ByteString>)>>>;

thread_local! {
    static CLIENTS: Clients = Rc::default();
    static NEXT: RefCell<u64> = const { RefCell::new(0) };
}

async fn socket(req: HttpRequest, body: web::Payload) -> actix_web::Result<HttpResponse> {
    let (res, mut session, mut stream) = actix_ws::handle(&req, body)?;
    let (tx, mut rx) = mpsc::channel::<bytestring::ByteString>(64);
    let id = NEXT.with(|n| {
        let mut n = n.borrow_mut();
        *n += 1;
        *n
    });
    CLIENTS.with(|c| c.borrow_mut().push((id, tx)));
    let mut writer = session.clone();
    actix_web::rt::spawn(async move {
        while let Some(text) = rx.recv().await {
            if writer.text(text).await.is_err() {
                break;
            }
        }
    });
    actix_web::rt::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            match msg {
                actix_ws::Message::Text(text) => CLIENTS.with(|c| {
                    for (_, tx) in c.borrow().iter() {
                        let _ = tx.try_send(text.clone());
                    }
                }),
                actix_ws::Message::Ping(p) => {
                    let _ = session.pong(&p).await;
                }
                actix_ws::Message::Close(_) => break,
                _ => {}
            }
        }
        CLIENTS.with(|c| c.borrow_mut().retain(|(i, _)| *i != id));
    });
    Ok(res)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18095".into());
    HttpServer::new(|| App::new().route("/", web::get().to(socket)))
        .workers(1)
        .bind(addr)?
        .run()
        .await
}
