//! Real-time transport. Today only the connection itself (auth, keep-alive,
//! reconnection); messaging frames plug into [`socket::Handlers::on_frame`].

pub mod socket;
